package testfix

import (
	"time"
)

// Timeout bounds every wait in this package. It only limits how long a
// broken test hangs: a condition that holds is seen within milliseconds,
// however long Timeout is, so nothing here asserts how fast anything is.
const Timeout = 20 * time.Second

// T is the part of testing.TB that Eventually needs.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Eventually polls cond until it holds, and fails the test naming what if
// it does not within Timeout. Call it from the test's goroutine.
func Eventually(t T, what string, cond func() bool) {
	t.Helper()
	eventually(t, Timeout, what, func() (bool, string) { return cond(), "" })
}

// EventuallySaw is Eventually for a condition that also says what it saw,
// so that a failure shows the last state instead of only a timeout.
func EventuallySaw(t T, what string, cond func() (ok bool, saw string)) {
	t.Helper()
	eventually(t, Timeout, what, cond)
}

func eventually(t T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if saw != "" {
				t.Fatalf("still waiting for %s after %v; last saw: %s", what, timeout, saw)
			} else {
				t.Fatalf("still waiting for %s after %v", what, timeout)
			}
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 10*time.Millisecond)
	}
}
