package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Service enqueues events and delivers them. One per process; with
// PostgreSQL every replica runs one and each job is worked by one of them.
type Service struct {
	cfg       Config
	endpoints map[string][]Endpoint // by project
	http      *http.Client
	jobs      jobClient
	// One of these is jobs, by driver: they insert in a transaction.
	sqliteJobs *river.Client[*sql.Tx]
	pgJobs     *river.Client[pgx.Tx]
	// backlog counts undelivered jobs (queue depth), for the metrics.
	backlog func(ctx context.Context) (int, error)
	metrics *deliveryMetrics
}

// Plugin is a user of the process's River client besides webhooks and
// health checks (the workflow engine).
type Plugin interface {
	// ConfigureRiver adds the plugin's workers, queues and periodic jobs
	// to the client's configuration before it is built.
	ConfigureRiver(rc *river.Config)
	// UseRiver hands the plugin the client once built.
	UseRiver(c Client)
	// EventJobs returns the jobs to enqueue for a connection event: in
	// the transaction of the store write that caused it, or on their own
	// for connection.test_failed. Nil when none.
	EventJobs(ev Event) []river.InsertManyParams
	// WantsEvents reports whether EventJobs may return jobs for events
	// of the project (the workflow engine: whether any workflow has a
	// lifecycle trigger). It is asked at every store write, so it must be
	// cheap; false lets the write skip the outbox altogether.
	WantsEvents(projectID string) bool
}

// Client is the process's River client; one field is set, by driver.
type Client struct {
	SQLite   *river.Client[*sql.Tx]
	Postgres *river.Client[pgx.Tx]
}

// jobClient is what Service uses of a river.Client, whatever its driver.
type jobClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// undelivered are the states of a job still to be delivered.
var undelivered = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateRetryable,
	rivertype.JobStateScheduled, rivertype.JobStateRunning, rivertype.JobStatePending}

const backlogSQL = `SELECT count(*) FROM river_job WHERE kind = '` + deliveryKind + `'
	AND state IN ('available', 'retryable', 'scheduled', 'running', 'pending')`

func newService(cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, endpoints: map[string][]Endpoint{}, http: newHTTPClient(cfg.Guard)}
	for _, e := range cfg.Endpoints {
		s.endpoints[e.ProjectID] = append(s.endpoints[e.ProjectID], e)
	}
	return s, nil
}

func (s *Service) riverConfig() *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{s: s})
	rc := &river.Config{
		Queues:            map[string]river.QueueConfig{queueName: {MaxWorkers: s.cfg.Workers}},
		Workers:           workers,
		FetchPollInterval: s.cfg.PollInterval,
		FetchCooldown:     min(100*time.Millisecond, s.cfg.PollInterval),
		Logger:            riverLogger(s.cfg.Log),
		// Deliveries that failed stay listed until an operator deals
		// with them; delivered ones are kept a day for inspection.
		CancelledJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		CompletedJobRetentionPeriod: 24 * time.Hour,
		// A delivery still "running" this long after it started was cut
		// short by a crash (kill -9, a lost node): River makes it again.
		// It must exceed the worker's Timeout.
		JobTimeout:           s.cfg.AttemptTimeout + 5*time.Second, // as deliveryWorker.Timeout (healthCheckWorker has its own)
		RescueStuckJobsAfter: max(s.cfg.AttemptTimeout, s.healthTimeout()) + 20*time.Second,
	}
	if s.cfg.Health != nil {
		s.addHealth(rc)
	}
	for _, p := range s.cfg.Plugins {
		p.ConfigureRiver(rc)
	}
	return rc
}

func (s *Service) healthTimeout() time.Duration {
	if s.cfg.Health == nil {
		return 0
	}
	return s.cfg.Health.Timeout
}

// NewSQLite migrates River's tables into st's database, makes st enqueue
// events in its write transactions and returns the service (not started).
// River shares st's single writer connection, as riversqlite requires.
func NewSQLite(ctx context.Context, st *store.SQLite, cfg Config) (*Service, error) {
	s, err := newService(cfg)
	if err != nil {
		return nil, err
	}
	drv := riversqlite.New(st.DB())
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: riverLogger(s.cfg.Log)})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("webhooks: migrate River's tables: %w", err)
	}
	client, err := river.NewClient(drv, s.riverConfig())
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	s.jobs = client
	s.backlog = func(ctx context.Context) (n int, err error) {
		err = st.DB().QueryRowContext(ctx, backlogSQL).Scan(&n)
		return n, err
	}
	s.sqliteJobs = client
	for _, p := range s.cfg.Plugins {
		p.UseRiver(Client{SQLite: client})
	}
	st.SetOutbox(s.EnqueueSQLite)
	st.SetOutboxWants(s.Wants)
	s.registerMetrics()
	return s, nil
}

// pgLockRiverMigrations is the advisory lock key (with the schema) under
// which one replica migrates River's tables while the others wait.
const pgLockRiverMigrations = 0x706c7277 // "plrw"

// NewPostgres is NewSQLite for PostgreSQL: River's tables go in the store's
// schema (the first of search_path), migrated by one replica at a time.
func NewPostgres(ctx context.Context, st *store.Postgres, cfg Config) (*Service, error) {
	s, err := newService(cfg)
	if err != nil {
		return nil, err
	}
	pool := st.Pool()
	drv := riverpgxv5.New(pool)
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: riverLogger(s.cfg.Log)})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	// River applies each migration in a transaction of its own (an enum
	// value it adds cannot be used in the transaction that adds it), so
	// the lock that keeps replicas from migrating together is a session
	// lock, held on a connection of its own; it goes if the process dies.
	err = func() error {
		lock, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer lock.Release()
		const key = `SELECT %s($1, hashtext(coalesce(current_schema(), '')))`
		if _, err := lock.Exec(ctx, fmt.Sprintf(key, "pg_advisory_lock"), pgLockRiverMigrations); err != nil {
			return err
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := lock.Exec(uctx, fmt.Sprintf(key, "pg_advisory_unlock"), pgLockRiverMigrations); err != nil {
				_ = lock.Conn().Close(uctx) // closing the session releases the lock
			}
		}()
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	}()
	if err != nil {
		return nil, fmt.Errorf("webhooks: migrate River's tables: %w", err)
	}
	client, err := river.NewClient(drv, s.riverConfig())
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	s.jobs = client
	s.backlog = func(ctx context.Context) (n int, err error) {
		err = pool.QueryRow(ctx, backlogSQL).Scan(&n)
		return n, err
	}
	s.pgJobs = client
	for _, p := range s.cfg.Plugins {
		p.UseRiver(Client{Postgres: client})
	}
	st.SetOutbox(s.EnqueuePostgres)
	st.SetOutboxWants(s.Wants)
	s.registerMetrics()
	return s, nil
}

// EnqueueSQLite is the SQLite store's outbox (NewSQLite installs it): it
// enqueues ch's event, for each endpoint that wants it, in tx.
func (s *Service) EnqueueSQLite(ctx context.Context, tx *sql.Tx, ch store.Change) error {
	if params := s.deliveries(ch); len(params) > 0 {
		if _, err := s.sqliteJobs.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("webhooks: enqueue the %s event's jobs: %w", ch.Op, err)
		}
	}
	return nil
}

// EnqueuePostgres is the PostgreSQL store's outbox (NewPostgres installs it).
func (s *Service) EnqueuePostgres(ctx context.Context, tx pgx.Tx, ch store.Change) error {
	if params := s.deliveries(ch); len(params) > 0 {
		if _, err := s.pgJobs.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("webhooks: enqueue the %s event's jobs: %w", ch.Op, err)
		}
	}
	return nil
}

// Wants reports whether anything may consume the events of a project:
// one of its endpoints, or a plugin (a lifecycle workflow). The store
// skips its outbox for the writes of a project nothing wants
// (SetOutboxWants), so a gateway without consumers pays nothing.
func (s *Service) Wants(projectID string) bool {
	if len(s.endpoints[projectID]) > 0 {
		return true
	}
	for _, p := range s.cfg.Plugins {
		if p.WantsEvents(projectID) {
			return true
		}
	}
	return false
}

// deliveries turns a store write into one job per endpoint that wants its
// event, and the plugins' jobs for it. An event nobody wants is not
// enqueued at all.
func (s *Service) deliveries(ch store.Change) []river.InsertManyParams {
	if !s.Wants(ch.Connection.ProjectID) {
		return nil
	}
	ev, ok := FromChange(ch, s.cfg.Now())
	if !ok {
		return nil
	}
	return s.deliveriesOf(ev)
}

// deliveriesOf is one job per endpoint of ev's project that wants it,
// then the plugins' jobs.
func (s *Service) deliveriesOf(ev Event) []river.InsertManyParams {
	var params []river.InsertManyParams
	for _, p := range s.cfg.Plugins {
		if p.WantsEvents(ev.Data.ProjectID) {
			params = append(params, p.EventJobs(ev)...)
		}
	}
	eps := s.endpoints[ev.Data.ProjectID]
	body, err := ev.body()
	if err != nil {
		return nil // cannot happen: Event is plain data
	}
	for _, ep := range eps {
		if ep.wants(ev.Type) {
			params = append(params, river.InsertManyParams{Args: deliveryArgs{
				EventID: ev.ID, Type: ev.Type, ProjectID: ep.ProjectID, URL: ep.URL, Body: body}})
		}
	}
	return params
}

// EmitTestFailed enqueues a connection.test_failed event (see TestFailed)
// for the project's endpoints that want it. Nothing was written, so there
// is no transaction to join: it is enqueued on its own.
func (s *Service) EmitTestFailed(ctx context.Context, c connection.Connection, why string) error {
	if !s.Wants(c.ProjectID) {
		return nil
	}
	if params := s.deliveriesOf(TestFailed(c, why, s.cfg.Now())); len(params) > 0 {
		if _, err := s.jobs.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("webhooks: enqueue %s event: %w", ConnectionTestFailed, err)
		}
	}
	return nil
}

func (s *Service) endpoint(projectID, url string) (Endpoint, bool) {
	for _, e := range s.endpoints[projectID] {
		if e.URL == url {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Start starts delivering; it returns once the workers run.
func (s *Service) Start(ctx context.Context) error { return s.jobs.Start(ctx) }

// Stop stops fetching new deliveries and waits for those in flight, until
// ctx ends; what is left is delivered after the next start (by this or
// another replica).
func (s *Service) Stop(ctx context.Context) error {
	err := s.jobs.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil // River's rescuer retries those after its timeout
	}
	return err
}

// Delivery is one event's delivery to one endpoint, as the admin API shows it.
type Delivery struct {
	ID          int64           `json:"id"`
	EventID     string          `json:"eventId"`
	Type        string          `json:"type"`
	ProjectID   string          `json:"projectId"`
	URL         string          `json:"url"`
	Status      string          `json:"status"` // pending, delivered or failed
	Attempts    int             `json:"attempts"`
	CreatedAt   time.Time       `json:"createdAt"`
	AttemptedAt *time.Time      `json:"lastAttemptAt,omitempty"`
	NextAt      *time.Time      `json:"nextAttemptAt,omitempty"`
	LastError   string          `json:"lastError,omitempty"`
	Event       json.RawMessage `json:"event"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// ErrNotFound: no delivery has that id.
var ErrNotFound = errors.New("no such webhook delivery")

func statesOf(status string) ([]rivertype.JobState, error) {
	switch status {
	case StatusFailed:
		return []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateDiscarded}, nil
	case StatusPending:
		return undelivered, nil
	case StatusDelivered:
		return []rivertype.JobState{rivertype.JobStateCompleted}, nil
	}
	return nil, fmt.Errorf("status %q is not %s, %s or %s", status, StatusFailed, StatusPending, StatusDelivered)
}

func statusOf(st rivertype.JobState) string {
	switch st {
	case rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		return StatusFailed
	case rivertype.JobStateCompleted:
		return StatusDelivered
	}
	return StatusPending
}

// List returns up to limit deliveries in a status, oldest first, after the
// delivery id after (0: from the start).
func (s *Service) List(ctx context.Context, status string, after int64, limit int) ([]Delivery, error) {
	states, err := statesOf(status)
	if err != nil {
		return nil, err
	}
	limit = max(1, min(limit, 1000))
	params := river.NewJobListParams().Kinds(deliveryKind).States(states...).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(limit)
	if after > 0 {
		params = params.Where("id > @after", river.NamedArgs{"after": after})
	}
	res, err := s.jobs.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, deliveryOf(j))
	}
	return out, nil
}

// Redeliver sends a failed delivery again now: one more attempt (the retry
// horizon is over), which puts it back in the failed list if it fails.
// A delivery that is not failed is left alone.
func (s *Service) Redeliver(ctx context.Context, id int64) (Delivery, error) {
	j, err := s.jobs.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) || (err == nil && j.Kind != deliveryKind) {
		return Delivery{}, ErrNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhooks: redeliver %d: %w", id, err)
	}
	if statusOf(j.State) != StatusFailed {
		return deliveryOf(j), nil
	}
	if j, err = s.jobs.JobRetry(ctx, id); err != nil {
		return Delivery{}, fmt.Errorf("webhooks: redeliver %d: %w", id, err)
	}
	return deliveryOf(j), nil
}

func deliveryOf(j *rivertype.JobRow) Delivery {
	var a deliveryArgs
	_ = json.Unmarshal(j.EncodedArgs, &a)
	d := Delivery{ID: j.ID, EventID: a.EventID, Type: a.Type, ProjectID: a.ProjectID, URL: a.URL,
		Status: statusOf(j.State), Attempts: j.Attempt, CreatedAt: j.CreatedAt, AttemptedAt: j.AttemptedAt, Event: a.Body}
	if d.Status == StatusPending {
		next := j.ScheduledAt
		d.NextAt = &next
	}
	if n := len(j.Errors); n > 0 {
		d.LastError = j.Errors[n-1].Error
	}
	return d
}
