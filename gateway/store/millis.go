package store

import (
	"database/sql"
	"time"
)

// Stored times are Unix milliseconds, which are UTC by definition. Times
// handed out are UTC and already rounded to the millisecond, so a value
// read back equals the value written.

func nowMillis() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func toMillis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis stores the zero time as NULL.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}
