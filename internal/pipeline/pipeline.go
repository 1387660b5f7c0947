// Package pipeline is LeakGuard's durable response pipeline: a push is
// scanned, each secret becomes (or joins) an incident, and a leaked AWS
// key is contained, investigated and reported. Every step is a job in a
// River queue stored in the incident database (SQLite by default,
// PostgreSQL for several nodes), written in the same transaction as the
// incident, so a crash at any point loses nothing; steps are idempotent,
// so a job that runs again after a crash changes nothing twice.
package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/partner"
	"github.com/leakguard/leakguard/internal/respond"
)

// ScanArgs asks for the commits of one push to be scanned.
type ScanArgs struct {
	CloneURL   string    `json:"clone_url" river:"unique"`
	Repository string    `json:"repository"` // e.g. "acme/app"
	HTMLURL    string    `json:"html_url,omitempty"`
	Ref        string    `json:"ref"`
	Before     string    `json:"before"`
	After      string    `json:"after" river:"unique"`
	PushedAt   time.Time `json:"pushed_at"`
	ReceivedAt time.Time `json:"received_at"`
	Source     string    `json:"source"` // "push", "watch"
}

// Kind names the job.
func (ScanArgs) Kind() string { return "scan_push" }

// RespondArgs asks for an incident's AWS key to be contained and reported.
// It carries no secret: jobs are stored in the database.
type RespondArgs struct {
	IncidentID string    `json:"incident_id" river:"unique"`
	KeyID      string    `json:"key_id"`
	FoundURL   string    `json:"found_url,omitempty"`
	FoundWhere string    `json:"found_where,omitempty"`
	DetectedAt time.Time `json:"detected_at"`
}

// Kind names the job.
func (RespondArgs) Kind() string { return "respond" }

// Deps are what the pipeline's workers use.
type Deps struct {
	Store  *incident.Store
	Engine *detect.Engine
	// Playbook returns the response playbook for one incident (its audit
	// log and history live with the incident).
	Playbook  func(incidentID string) (*respond.Playbook, error)
	MirrorDir string // bare mirrors of watched repositories
	GitBin    string // default "git"
	Logger    *slog.Logger
	Now       func() time.Time
	// OnEvent, when set, is told of every timeline event (for metrics).
	OnEvent func(kind string, inc incident.Incident, at time.Time)
	Workers int // concurrent jobs; default 4
	// PollInterval is how often idle workers look for jobs (SQLite has no
	// notifications); default 50ms.
	PollInterval time.Duration
	// AllowLocalRemotes lets clone URLs be local paths or file:// URLs
	// (tests, single-host setups); otherwise only network transports are
	// fetched, so a webhook cannot make the server read its own files.
	AllowLocalRemotes bool
	// Allow lists fingerprints (lg1:…) of secrets known to be harmless
	// (test keys): their incidents are recorded as dismissed and nothing
	// is done about them.
	Allow []string
	// Partners receive, as GitHub-format secret-scanning alerts, the
	// secrets found in pushes whose provider they serve.
	Partners []Partner
	// JobTimeout bounds one job; a job whose worker died is retried 5 s
	// after it would have timed out. Default 2 minutes.
	JobTimeout time.Duration
}

// Partner is a secret-scanning partner: findings of its providers are
// sent to it, signed, before they are recorded (at least once).
type Partner struct {
	Providers []string // rule providers, e.g. "aws", "slack"
	Sender    interface {
		Send(ctx context.Context, alerts []partner.Alert) error
	}
}

// queueSchemaLock is the PostgreSQL advisory lock held while River's
// tables are migrated.
const queueSchemaLock = 0x4c47_5155_4555_4521 // "LGQUEUE!"

// Pipeline runs the workers.
type Pipeline struct {
	deps        Deps
	client      *river.Client[*sql.Tx]
	mirrorLocks sync.Map // mirror directory -> *sync.Mutex
	marks       sync.Map // clone URL -> *atomic.Int64, scanned marks written
}

// New migrates River's tables into the store's database and prepares the
// workers; Start starts them.
func New(ctx context.Context, d Deps) (*Pipeline, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.GitBin == "" {
		d.GitBin = "git"
	}
	if d.Workers <= 0 {
		d.Workers = 4
	}
	if d.PollInterval <= 0 {
		d.PollInterval = 50 * time.Millisecond
	}
	if d.JobTimeout <= 0 {
		d.JobTimeout = 2 * time.Minute
	}
	var driver riverdriver.Driver[*sql.Tx]
	if d.Store.Postgres() {
		driver = riverdatabasesql.New(d.Store.DB())
	} else {
		driver = riversqlite.New(d.Store.DB())
	}
	if d.Store.Postgres() {
		// Nodes that start together would race to create River's tables:
		// one migrates while the others wait, then find nothing to do.
		conn, err := d.Store.DB().Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate job queue: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(queueSchemaLock)); err != nil {
			return nil, fmt.Errorf("migrate job queue: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(queueSchemaLock))
	}
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	p := &Pipeline{deps: d}
	workers := river.NewWorkers()
	river.AddWorker(workers, &scanWorker{p: p})
	river.AddWorker(workers, &respondWorker{p: p})
	p.client, err = river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: d.Workers}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: d.PollInterval,
		MaxAttempts:       12,
		Logger:            d.Logger.With("component", "queue"),
		// A job runs at most JobTimeout; one still marked running after
		// RescueAfter (its worker died: SIGKILL, power loss) is retried.
		JobTimeout:           d.JobTimeout,
		RescueStuckJobsAfter: d.JobTimeout + 5*time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return p, nil
}

// Start starts working jobs until Stop is called. Cancelling ctx does not
// stop them: Stop lets running jobs finish.
func (p *Pipeline) Start(ctx context.Context) error {
	return p.client.Start(context.WithoutCancel(ctx))
}

// Stop finishes the running jobs and stops.
func (p *Pipeline) Stop(ctx context.Context) error { return p.client.Stop(ctx) }

// EnqueueScan records a push to scan. The job is durable once this returns.
func (p *Pipeline) EnqueueScan(ctx context.Context, a ScanArgs) error {
	_, err := p.client.Insert(ctx, a, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("enqueue scan of %s %s: %w", a.Repository, a.After, err)
	}
	return nil
}

// QueueDepth is how many jobs wait, run or will retry; dead how many
// gave up (discarded after their retries, or cancelled as impossible).
func (p *Pipeline) QueueDepth(ctx context.Context) (waiting, dead int, err error) {
	rows, err := p.deps.Store.DB().QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return 0, 0, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return 0, 0, fmt.Errorf("count jobs: %w", err)
		}
		switch rivertype.JobState(state) {
		case rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending:
			waiting += n
		case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
			dead += n
		}
	}
	return waiting, dead, rows.Err()
}

func (p *Pipeline) now() time.Time { return p.deps.Now().UTC() }

func (p *Pipeline) event(ctx context.Context, id, kind string, at time.Time, detail string) error {
	if at.IsZero() {
		return nil
	}
	added, err := p.deps.Store.AddEvents(ctx, id, incident.Event{At: at.UTC(), Kind: kind, Detail: detail})
	if err != nil {
		return err
	}
	if added > 0 && p.deps.OnEvent != nil {
		if inc, err := p.deps.Store.Get(ctx, id); err == nil {
			p.deps.OnEvent(kind, inc, at)
		}
	}
	return nil
}
