package store

import (
	"context"
	"sync"
)

// lockTable is a set of per-key mutexes that honour context cancellation.
// Entries exist only while someone holds or waits for them, so the table
// does not grow with the number of connections ever locked.
type lockTable struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // capacity 1: full while held
	refs int           // holders + waiters; guarded by lockTable.mu
}

// lock blocks until key is free or ctx is done, and returns the unlock func.
func (t *lockTable) lock(ctx context.Context, key string) (unlock func(), err error) {
	t.mu.Lock()
	if t.locks == nil {
		t.locks = make(map[string]*keyLock)
	}
	l := t.locks[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		t.locks[key] = l
	}
	l.refs++
	t.mu.Unlock()

	var once sync.Once
	unlock = func() {
		once.Do(func() {
			<-l.held
			t.release(key, l)
		})
	}
	// A free lock is taken even if ctx is done, as a sync.Mutex would be;
	// select alone would pick between the two at random.
	select {
	case l.held <- struct{}{}:
		return unlock, nil
	default:
	}
	select {
	case l.held <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		t.release(key, l)
		return nil, ctx.Err()
	}
}

func (t *lockTable) release(key string, l *keyLock) {
	t.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(t.locks, key)
	}
	t.mu.Unlock()
}
