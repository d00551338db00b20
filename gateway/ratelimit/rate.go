// Package ratelimit limits how often one key (a user, a client address) may
// do something: a token bucket per key (golang.org/x/time/rate), with the
// memory of all buckets bounded, and the client address of a request taken
// only from sources the operator trusts.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Rate is how many events a key may have per period, with bursts of up to
// Burst at once. Written COUNT/PERIOD[,burst=N]: "10/m", "100/h,burst=20",
// "5/30s"; PERIOD is s, m, h or a Go duration; the burst defaults to COUNT.
// "0" (or "off") disables the limit. The zero Rate is unset: the caller's
// default applies.
type Rate struct {
	Count int
	Per   time.Duration
	Burst int
	Off   bool
}

// Disabled is the rate that never limits.
var Disabled = Rate{Off: true}

// IsZero reports whether r is unset.
func (r Rate) IsZero() bool { return r == Rate{} }

// ParseRate reads COUNT/PERIOD[,burst=N], "0" or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "off") {
		return Disabled, nil
	}
	spec, burst, hasBurst := strings.Cut(s, ",")
	count, period, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want COUNT/PERIOD[,burst=N], e.g. 10/m or 100/h,burst=20 (0 disables)", s)
	}
	var r Rate
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return Rate{}, fmt.Errorf("rate %q: count %q is not a whole number", s, count)
	}
	if n == 0 {
		return Disabled, nil
	}
	r.Count = n
	switch p := strings.TrimSpace(period); p {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		d, err := time.ParseDuration(p)
		if err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("rate %q: period %q is not s, m, h or a positive duration such as 30s", s, p)
		}
		r.Per = d
	}
	r.Burst = n
	if hasBurst {
		v, ok := strings.CutPrefix(strings.TrimSpace(burst), "burst=")
		b, err := strconv.Atoi(v)
		if !ok || err != nil || b < 1 {
			return Rate{}, fmt.Errorf("rate %q: want burst=N with N at least 1 after the comma", s)
		}
		r.Burst = b
	}
	return r, nil
}

// String writes r as ParseRate reads it.
func (r Rate) String() string {
	switch {
	case r.Off:
		return "0"
	case r.IsZero():
		return ""
	}
	per := r.Per.String()
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "m"
	case time.Hour:
		per = "h"
	}
	s := strconv.Itoa(r.Count) + "/" + per
	if r.Burst != r.Count {
		s += ",burst=" + strconv.Itoa(r.Burst)
	}
	return s
}

// Set implements flag.Value.
func (r *Rate) Set(s string) error {
	v, err := ParseRate(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "rate "))
	}
	*r = v
	return nil
}

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.Count) / r.Per.Seconds()) }

// refill is how long an untouched bucket takes to be full again: after
// that it is the same as a new one, so it can be forgotten.
func (r Rate) refill() time.Duration {
	return time.Duration(float64(r.Burst) / float64(r.limit()) * float64(time.Second))
}
