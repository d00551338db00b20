package store

import "context"

var _ Notifier = (*SQLite)(nil)

// Listen returns ctx.Err() when ctx ends, without ever calling fn: SQLite
// serves one process, so there is no other process whose writes could make
// this one's caches stale.
func (s *SQLite) Listen(ctx context.Context, fn func(projectID, userID, integrationID string)) error {
	<-ctx.Done()
	return ctx.Err()
}
