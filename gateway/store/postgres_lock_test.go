package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/store/storetest"
)

// twoReplicas opens two stores on one fresh schema: two pools, as two
// gateway processes would have.
func twoReplicas(t *testing.T) (dsn string, kr *seal.Keyring, a, b *store.Postgres) {
	dsn = store.PostgresTestDSN(t)
	kr = storetest.Keyring(t, storetest.Key(t, "k1"))
	return dsn, kr, openPostgres(t, dsn, kr), openPostgres(t, dsn, kr)
}

// increment is a WithLock fn: a read-modify-write that loses counts unless
// holders exclude each other.
func increment(cur *connection.Connection) (*connection.Connection, error) {
	n, _ := strconv.Atoi(cur.Credential.Extra["counter"])
	time.Sleep(time.Millisecond) // widen the window a missing lock would leave
	if cur.Credential.Extra == nil {
		cur.Credential.Extra = map[string]string{}
	}
	cur.Credential.Extra["counter"] = strconv.Itoa(n + 1)
	return cur, nil
}

// TestPostgresWithLockAcrossReplicas: increments made under the lock
// through two stores (two pools, like two processes) are all kept.
func TestPostgresWithLockAcrossReplicas(t *testing.T) {
	dsn, _, a, b := twoReplicas(t)
	c := testConnection("p1", "u1", "github", "tok")
	if err := a.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	const perReplica = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for range perReplica {
		for _, s := range []*store.Postgres{a, b} {
			wg.Go(func() {
				_, err := s.WithLock(t.Context(), c.ID, increment)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("WithLock: %v", err)
		}
	}
	got, err := b.Get(t.Context(), "p1", "u1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(2 * perReplica); got.Credential.Extra["counter"] != want {
		t.Errorf("counter = %q after %s locked increments through two stores, want %s", got.Credential.Extra["counter"], want, want)
	}
	if got.Version != 1+2*perReplica {
		t.Errorf("Version = %d, want %d", got.Version, 1+2*perReplica)
	}
	assertNoRefreshLocks(t, dsn)
}

// TestPostgresWithLockExcludesOtherReplica: while one store holds the
// lock, the other's WithLock waits, gives up when its context ends, and
// gets the lock once it is released.
func TestPostgresWithLockExcludesOtherReplica(t *testing.T) {
	dsn, _, a, b := twoReplicas(t)
	c := testConnection("p1", "u1", "github", "tok")
	if err := a.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // also on failure: the stores' Close waits for the holder
	done := make(chan error, 1)
	go func() {
		_, err := a.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
			close(holding)
			<-release
			cur.Credential.AccessToken = "written by the holder"
			return cur, nil
		})
		done <- err
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.WithLock(ctx, c.ID, func(*connection.Connection) (*connection.Connection, error) {
		t.Error("fn ran in the other replica while the lock was held")
		return nil, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the deadline: %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the waiter gave up %v after it was told to at 200ms", waited)
	}
	releaseOnce()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := b.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) { return nil, nil })
	if err != nil {
		t.Fatalf("WithLock after the holder released: %v", err)
	}
	if got.Credential.AccessToken != "written by the holder" {
		t.Error("the next holder did not read the previous holder's write")
	}
	assertNoRefreshLocks(t, dsn)
}

// TestPostgresWithLockHolderLosesConnection: when the holder's session
// ends in the middle of fn (its connection broke, or an operator killed
// it), the lock is released at once, and the former holder's write is
// refused rather than made without the lock.
func TestPostgresWithLockHolderLosesConnection(t *testing.T) {
	dsn, _, a, b := twoReplicas(t)
	c := testConnection("p1", "u1", "github", "tok")
	if err := a.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // also on failure: the stores' Close waits for the holder
	done := make(chan error, 1)
	go func() {
		_, err := a.WithLock(t.Context(), c.ID, func(cur *connection.Connection) (*connection.Connection, error) {
			close(holding)
			<-release
			cur.Credential.AccessToken = "written after the lock was lost"
			return cur, nil
		})
		done <- err
	}()
	<-holding
	killed := terminateRefreshLockHolders(t, dsn)
	if killed != 1 {
		t.Fatalf("terminated %d sessions holding refresh locks, want 1", killed)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := b.WithLock(ctx, c.ID, func(*connection.Connection) (*connection.Connection, error) { return nil, nil }); err != nil {
		t.Fatalf("WithLock after the holder's session ended: %v", err)
	}
	releaseOnce()
	if err := <-done; err == nil {
		t.Error("the holder that lost its session wrote fn's result anyway")
	}
	got, err := b.Get(t.Context(), "p1", "u1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != c.Version || got.Credential.AccessToken != c.Credential.AccessToken {
		t.Error("the connection changed, although the only write was the lost holder's")
	}
	// The store whose connection died still works.
	if _, err := a.WithLock(t.Context(), c.ID, func(*connection.Connection) (*connection.Connection, error) { return nil, nil }); err != nil {
		t.Errorf("WithLock on the store that lost a connection: %v", err)
	}
}

// TestPostgresWithLockReleasedWhenHolderDies kills (SIGKILL) a process in
// the middle of fn: the server notices the closed connection and releases
// its lock, so another process gets it.
func TestPostgresWithLockReleasedWhenHolderDies(t *testing.T) {
	dsn := store.PostgresTestDSN(t)
	key := storetest.Key(t, "k1")
	kr := storetest.Keyring(t, key)
	s := openPostgres(t, dsn, kr)
	c := testConnection("p1", "u1", "github", "tok")
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPostgresLockHolderProcess$", "-test.v")
	cmd.Env = append(os.Environ(), lockHolderEnv+"=1", "PLUGBOARD_TEST_HOLDER_DSN="+dsn,
		"PLUGBOARD_TEST_HOLDER_KEY="+key, "PLUGBOARD_TEST_HOLDER_ID="+c.ID)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if !waitForLine(stdout, holdingLine, 60*time.Second) {
		t.Fatal("the holder process did not report holding the lock")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.WithLock(ctx, c.ID, func(*connection.Connection) (*connection.Connection, error) {
		return nil, errors.New("got the lock while the other process held it")
	}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WithLock while another process holds the lock: %v, want context.DeadlineExceeded", err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.WithLock(ctx, c.ID, increment); err != nil {
		t.Fatalf("WithLock after the holder process was killed: %v", err)
	}
	t.Logf("lock acquired %v after the holder was killed", time.Since(start).Round(time.Millisecond))
	assertNoRefreshLocks(t, dsn)
}

const (
	lockHolderEnv = "PLUGBOARD_TEST_LOCK_HOLDER"
	holdingLine   = "HOLDING THE LOCK"
)

// TestPostgresLockHolderProcess is the process that
// TestPostgresWithLockReleasedWhenHolderDies kills: it takes the lock and
// waits to be killed.
func TestPostgresLockHolderProcess(t *testing.T) {
	if os.Getenv(lockHolderEnv) != "1" {
		t.Skip("helper process of TestPostgresWithLockReleasedWhenHolderDies")
	}
	kr := storetest.Keyring(t, os.Getenv("PLUGBOARD_TEST_HOLDER_KEY"))
	s, err := store.OpenPostgres(t.Context(), os.Getenv("PLUGBOARD_TEST_HOLDER_DSN"), kr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.WithLock(t.Context(), os.Getenv("PLUGBOARD_TEST_HOLDER_ID"), func(*connection.Connection) (*connection.Connection, error) {
		fmt.Println(holdingLine)
		time.Sleep(time.Minute) // killed long before
		return nil, errors.New("not killed")
	})
	t.Fatal(err)
}

func waitForLine(r interface{ Read([]byte) (int, error) }, want string, timeout time.Duration) bool {
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == want {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(timeout):
		return false
	}
}

// refreshLockClass is WithLock's advisory lock class ("plrf"), as pg_locks
// shows it.
const refreshLockClass = 0x706c7266

// terminateRefreshLockHolders ends the sessions holding WithLock's locks
// in the test database, and returns how many there were.
func terminateRefreshLockHolders(t *testing.T, dsn string) int {
	t.Helper()
	var n int
	err := rawPostgres(t, dsn).QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		refreshLockClass).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNoRefreshLocks fails if a session still holds or waits for a
// WithLock lock: WithLock must return its connections to the pool clean.
func assertNoRefreshLocks(t *testing.T, dsn string) {
	t.Helper()
	var n int
	if err := rawPostgres(t, dsn).QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		refreshLockClass).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d refresh locks held or awaited after every WithLock returned", n)
	}
}

// TestPostgresWithLockDoesNotStarveReads: holders waiting on slow token
// endpoints hold connections of WithLock's own pool, never the ones reads
// need, even when every connection of the read pool would be taken.
func TestPostgresWithLockDoesNotStarveReads(t *testing.T) {
	dsn := store.WithDSNParam(t, store.PostgresTestDSN(t), "pool_max_conns", "1")
	s := openPostgres(t, dsn, storetest.Keyring(t, storetest.Key(t, "k1")))
	c := testConnection("p1", "u1", "github", "tok")
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	done := make(chan error, 1)
	go func() {
		_, err := s.WithLock(t.Context(), c.ID, func(*connection.Connection) (*connection.Connection, error) {
			close(holding)
			<-release // a token endpoint that takes its time
			return nil, nil
		})
		done <- err
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.Default(ctx, "p1", "u1", "github"); err != nil {
		t.Errorf("Default while a refresh holds its lock (pool_max_conns=1): %v", err)
	}
	if err := s.Update(ctx, c); err != nil {
		t.Errorf("Update while a refresh holds its lock (pool_max_conns=1): %v", err)
	}
	releaseOnce()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
