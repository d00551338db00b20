package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLockTableExcludesAndForgets(t *testing.T) {
	var lt lockTable
	var wg sync.WaitGroup
	inside := 0
	for i := range 100 {
		key := []string{"a", "b"}[i%2]
		wg.Go(func() {
			unlock, err := lt.lock(context.Background(), key)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			if key == "a" {
				inside++ // the race detector flags this if "a" is not exclusive
				inside--
			}
		})
	}
	wg.Wait()
	if n := len(lt.locks); n != 0 {
		t.Errorf("%d lock entries left after every holder unlocked", n)
	}
}

func TestLockTableContext(t *testing.T) {
	var lt lockTable
	unlock, err := lt.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := lt.lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("lock of a held key past the deadline: %v", err)
	}
	other, err := lt.lock(ctx, "b")
	if err != nil {
		t.Fatalf("another key is blocked: %v", err)
	}
	other()
	unlock()
	unlock() // idempotent
	if n := len(lt.locks); n != 0 {
		t.Errorf("%d lock entries left", n)
	}
}
