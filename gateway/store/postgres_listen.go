package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// How long Listen waits before reconnecting: doubling from the first to
// the last, with jitter, so that replicas do not reconnect in lockstep
// after a failover.
const (
	listenRetryFirst = 250 * time.Millisecond
	listenRetryLast  = 15 * time.Second
)

// Listen calls fn after every write of a connection by any process that
// shares the database (Create, Update, SetDefault, Delete, and WithLock's
// write), with the connection's project, user and integration, so that
// replicas can drop what they cached. Calls come from one goroutine, in
// commit order; fn should return quickly (notifications queue meanwhile).
//
// fn("", "", "") means that anything may have changed: it is called once
// Listen is listening (writes made before that were not heard), and again
// after every reconnection, since notifications sent while the connection
// was down are lost. The first call therefore also says that Listen is ready.
//
// Listen holds a connection of its own (not one of the pool's) and
// reconnects, with backoff, whenever it fails; interruptions are logged
// with slog's default logger. It returns ctx.Err() when ctx ends, and nil
// when the store is closed.
func (p *Postgres) Listen(ctx context.Context, fn func(projectID, userID, integrationID string)) error {
	if fn == nil {
		return errors.New("store: listen for PostgreSQL notifications: fn is nil")
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-lctx.Done():
		}
	}()

	wait := listenRetryFirst
	for {
		start := time.Now()
		listened, err := p.listenOnce(lctx, fn)
		if lctx.Err() != nil {
			return ctx.Err() // nil if the store was closed
		}
		if listened && time.Since(start) > listenRetryLast {
			wait = listenRetryFirst // it worked for a while: start the backoff over
		}
		delay := wait/2 + rand.N(wait/2+1)
		slog.Warn("store: PostgreSQL change notifications interrupted; reconnecting",
			"database", p.name, "err", err, "retry_in", delay.Round(time.Millisecond))
		select {
		case <-time.After(delay):
		case <-lctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, listenRetryLast)
	}
}

// listenOnce listens on one connection until it fails or ctx ends, and
// reports whether LISTEN took effect.
func (p *Postgres) listenOnce(ctx context.Context, fn func(projectID, userID, integrationID string)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, p.listen)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), pgCleanupTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false, fmt.Errorf("LISTEN %s: %w", notifyChannel, err)
	}
	fn("", "", "")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		c := parseNotice(n.Payload)
		fn(c.ProjectID, c.UserID, c.IntegrationID)
	}
}
