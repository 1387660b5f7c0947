package incident

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/cloudtrail"
)

// ErrNotFound is returned for an unknown incident ID.
var ErrNotFound = errors.New("incident not found")

// Store keeps incidents in SQLite (one node, zero setup) or PostgreSQL
// (several nodes sharing the work). Times are stored as Unix nanoseconds,
// so one schema serves both.
type Store struct {
	db       *sql.DB
	postgres bool
	Now      func() time.Time
}

// OpenStore opens a store: "sqlite:PATH" or a "postgres://" URL.
func OpenStore(ctx context.Context, dsn string) (*Store, error) {
	var s Store
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		s.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)")
		if err == nil {
			// SQLite allows one writer; River and the store share one
			// connection rather than fail with SQLITE_BUSY.
			s.db.SetMaxOpenConns(1)
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.postgres = true
		s.db, err = sql.Open("pgx", dsn)
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://…", dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return &s, nil
}

// DB is the underlying database, shared with the job queue so that an
// incident and its jobs are written in one transaction.
func (s *Store) DB() *sql.DB { return s.db }

// Postgres reports whether the store is PostgreSQL.
func (s *Store) Postgres() bool { return s.postgres }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS lg_incident (
		id TEXT PRIMARY KEY,
		fingerprint TEXT NOT NULL UNIQUE,
		rule_id TEXT NOT NULL,
		title TEXT NOT NULL,
		redacted TEXT NOT NULL,
		key_id TEXT NOT NULL DEFAULT '',
		account TEXT NOT NULL DEFAULT '',
		principal TEXT NOT NULL DEFAULT '',
		state TEXT NOT NULL,
		source TEXT NOT NULL,
		created BIGINT NOT NULL,
		updated BIGINT NOT NULL,
		activity TEXT NOT NULL DEFAULT '[]'
	)`,
	`CREATE INDEX IF NOT EXISTS lg_incident_state ON lg_incident (state, created)`,
	`CREATE TABLE IF NOT EXISTS lg_location (
		incident_id TEXT NOT NULL REFERENCES lg_incident (id),
		repository TEXT NOT NULL,
		commit_sha TEXT NOT NULL,
		path TEXT NOT NULL,
		line INTEGER NOT NULL,
		url TEXT NOT NULL,
		author TEXT NOT NULL,
		at BIGINT NOT NULL,
		PRIMARY KEY (incident_id, repository, commit_sha, path, line)
	)`,
	// One event of each kind per incident: the first is kept, so a step
	// that runs again after a crash does not move the timeline.
	`CREATE TABLE IF NOT EXISTS lg_event (
		incident_id TEXT NOT NULL REFERENCES lg_incident (id),
		kind TEXT NOT NULL,
		at BIGINT NOT NULL,
		detail TEXT NOT NULL,
		PRIMARY KEY (incident_id, kind)
	)`,
	`CREATE TABLE IF NOT EXISTS lg_audit (
		incident_id TEXT NOT NULL,
		at BIGINT NOT NULL,
		entry TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS lg_audit_incident ON lg_audit (incident_id, at)`,
	// High-water marks of watched remotes: the last commit seen per ref.
	`CREATE TABLE IF NOT EXISTS lg_watch (
		remote TEXT NOT NULL,
		ref TEXT NOT NULL,
		sha TEXT NOT NULL,
		PRIMARY KEY (remote, ref)
	)`,
}

// schemaLock is the PostgreSQL advisory lock taken while migrating: nodes
// that start together would otherwise race to create the same tables
// (CREATE … IF NOT EXISTS does not wait for a concurrent creator).
const schemaLock = 0x4c47_5343_4845_4d41 // "LGSCHEMA"

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate incident store: %w", err)
	}
	defer tx.Rollback()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return fmt.Errorf("migrate incident store: lock: %w", err)
		}
	}
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate incident store: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate incident store: %w", err)
	}
	return nil
}

// q rewrites ? placeholders as $1, $2… for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "inc_" + hex.EncodeToString(b)
}

// Upsert records a finding in tx: a new incident for a new fingerprint, or
// more locations and events on the existing one. It returns the
// incident's ID and whether it was created now.
func (s *Store) Upsert(ctx context.Context, tx *sql.Tx, inc Incident) (string, bool, error) {
	if inc.Fingerprint == "" {
		return "", false, errors.New("upsert incident: no fingerprint")
	}
	now := s.now()
	if inc.State == "" {
		inc.State = Open
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO lg_incident (id, fingerprint, rule_id, title, redacted, key_id, account, principal, state, source, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`),
		newID(), inc.Fingerprint, inc.RuleID, inc.Title, inc.Redacted, inc.KeyID, inc.Account, inc.Principal, string(inc.State), inc.Source, now.UnixNano(), now.UnixNano())
	if err != nil {
		return "", false, fmt.Errorf("insert incident: %w", err)
	}
	n, _ := res.RowsAffected()
	var id string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM lg_incident WHERE fingerprint = ?`), inc.Fingerprint).Scan(&id); err != nil {
		return "", false, fmt.Errorf("find incident: %w", err)
	}
	for _, l := range inc.Locations {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO lg_location (incident_id, repository, commit_sha, path, line, url, author, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			id, l.Repository, l.Commit, l.Path, l.Line, l.URL, l.Author, l.Time.UnixNano()); err != nil {
			return "", false, fmt.Errorf("insert location: %w", err)
		}
	}
	if _, err := s.addEvents(ctx, tx, id, inc.Events...); err != nil {
		return "", false, err
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE lg_incident SET updated = ? WHERE id = ?`), now.UnixNano(), id); err != nil {
			return "", false, fmt.Errorf("touch incident: %w", err)
		}
	}
	return id, n == 1, nil
}

// AddEvents records timeline events; a kind already recorded keeps its
// first time. It returns how many events were new.
func (s *Store) AddEvents(ctx context.Context, id string, events ...Event) (int, error) {
	return s.addEvents(ctx, s.db, id, events...)
}

func (s *Store) addEvents(ctx context.Context, ex execer, id string, events ...Event) (int, error) {
	added := 0
	for _, e := range events {
		if e.At.IsZero() {
			continue
		}
		res, err := ex.ExecContext(ctx, s.q(`INSERT INTO lg_event (incident_id, kind, at, detail) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			id, e.Kind, e.At.UnixNano(), e.Detail)
		if err != nil {
			return added, fmt.Errorf("record %s event of %s: %w", e.Kind, id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	return added, nil
}

// Update sets an incident's state, owner and activity after a response
// step; empty values leave the stored ones.
func (s *Store) Update(ctx context.Context, id string, state State, account, principal string, activity []cloudtrail.Event) error {
	var act any
	if activity != nil {
		b, err := json.Marshal(activity)
		if err != nil {
			return fmt.Errorf("encode activity: %w", err)
		}
		act = string(b)
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE lg_incident SET
		state = CASE WHEN ? = '' OR state IN ('resolved', 'released', 'dismissed') THEN state ELSE ? END,
		account = CASE WHEN ? = '' THEN account ELSE ? END,
		principal = CASE WHEN ? = '' THEN principal ELSE ? END,
		activity = COALESCE(?, activity),
		updated = ? WHERE id = ?`),
		string(state), string(state), account, account, principal, principal, act, s.now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("update incident %s: %w", id, err)
	}
	return nil
}

// Resolve marks an incident resolved by actor.
func (s *Store) Resolve(ctx context.Context, id, actor string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	if err := s.Update(ctx, id, Resolved, "", "", nil); err != nil {
		return err
	}
	_, err := s.AddEvents(ctx, id, Event{At: s.now(), Kind: ResolvedEvent, Detail: "by " + actor})
	return err
}

// Released marks an incident released: its quarantine was lifted after the
// credential was rotated.
func (s *Store) Released(ctx context.Context, id, actor string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE lg_incident SET state = ?, updated = ? WHERE id = ?`), string(Released), s.now().UnixNano(), id); err != nil {
		return fmt.Errorf("release incident %s: %w", id, err)
	}
	_, err := s.AddEvents(ctx, id, Event{At: s.now(), Kind: ReleasedEvent, Detail: "by " + actor})
	return err
}

// AuditLog is an audit.Recorder that files each entry under its incident.
func (s *Store) AuditLog() audit.Recorder { return auditRecorder{s} }

type auditRecorder struct{ s *Store }

func (a auditRecorder) Record(ctx context.Context, e audit.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	if _, err := a.s.db.ExecContext(ctx, a.s.q(`INSERT INTO lg_audit (incident_id, at, entry) VALUES (?, ?, ?)`), e.Incident, e.Time.UnixNano(), string(b)); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// Audit returns an incident's audit entries in order.
func (s *Store) Audit(ctx context.Context, id string) ([]audit.Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT entry FROM lg_audit WHERE incident_id = ? ORDER BY at`), id)
	if err != nil {
		return nil, fmt.Errorf("read audit of %s: %w", id, err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("audit entry of %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const incidentColumns = `id, fingerprint, rule_id, title, redacted, key_id, account, principal, state, source, created, updated, activity`

func scanIncident(sc interface{ Scan(...any) error }) (Incident, error) {
	var inc Incident
	var state, activity string
	var created, updated int64
	if err := sc.Scan(&inc.ID, &inc.Fingerprint, &inc.RuleID, &inc.Title, &inc.Redacted, &inc.KeyID, &inc.Account, &inc.Principal, &state, &inc.Source, &created, &updated, &activity); err != nil {
		return inc, err
	}
	inc.State, inc.Created, inc.Updated = State(state), time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	if err := json.Unmarshal([]byte(activity), &inc.Activity); err != nil {
		return inc, fmt.Errorf("activity of %s: %w", inc.ID, err)
	}
	return inc, nil
}

// Get returns one incident with its locations and events.
func (s *Store) Get(ctx context.Context, id string) (Incident, error) {
	inc, err := scanIncident(s.db.QueryRowContext(ctx, s.q(`SELECT `+incidentColumns+` FROM lg_incident WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("read incident %s: %w", id, err)
	}
	one := []Incident{inc}
	if err := s.fill(ctx, one); err != nil {
		return inc, err
	}
	inc = one[0]
	return inc, nil
}

// fill reads the locations and events of incs, a batch of incidents at a
// time rather than two queries per incident.
func (s *Store) fill(ctx context.Context, incs []Incident) error {
	const batch = 500
	for len(incs) > 0 {
		n := min(batch, len(incs))
		if err := s.fillBatch(ctx, incs[:n]); err != nil {
			return err
		}
		incs = incs[n:]
	}
	return nil
}

func (s *Store) fillBatch(ctx context.Context, incs []Incident) error {
	byID := make(map[string]*Incident, len(incs))
	args := make([]any, len(incs))
	for i := range incs {
		byID[incs[i].ID] = &incs[i]
		args[i] = incs[i].ID
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(incs)), ",") + ")"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT incident_id, repository, commit_sha, path, line, url, author, at FROM lg_location WHERE incident_id IN `+in+` ORDER BY at, repository, path`), args...)
	if err != nil {
		return fmt.Errorf("read locations: %w", err)
	}
	for rows.Next() {
		var id string
		var l Location
		var at int64
		if err := rows.Scan(&id, &l.Repository, &l.Commit, &l.Path, &l.Line, &l.URL, &l.Author, &at); err != nil {
			rows.Close()
			return err
		}
		if at != 0 && at != (time.Time{}).UnixNano() {
			l.Time = time.Unix(0, at).UTC()
		}
		byID[id].Locations = append(byID[id].Locations, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT incident_id, kind, at, detail FROM lg_event WHERE incident_id IN `+in+` ORDER BY at`), args...)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e Event
		var at int64
		if err := rows.Scan(&id, &e.Kind, &at, &e.Detail); err != nil {
			return err
		}
		e.At = time.Unix(0, at).UTC()
		byID[id].Events = append(byID[id].Events, e)
	}
	return rows.Err()
}

// FindByFingerprint returns the incident of a secret, if there is one.
func (s *Store) FindByFingerprint(ctx context.Context, fp string) (Incident, error) {
	var id string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM lg_incident WHERE fingerprint = ?`), fp).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("fingerprint %s: %w", fp, ErrNotFound)
	}
	if err != nil {
		return Incident{}, fmt.Errorf("find incident: %w", err)
	}
	return s.Get(ctx, id)
}

// List returns incidents, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Incident, error) {
	query := `SELECT ` + incidentColumns + ` FROM lg_incident i WHERE 1=1`
	var args []any
	if f.State != "" {
		query += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Repository != "" {
		query += ` AND EXISTS (SELECT 1 FROM lg_location l WHERE l.incident_id = i.id AND l.repository = ?)`
		args = append(args, f.Repository)
	}
	if f.Query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Query) + "%"
		query += ` AND (title LIKE ? ESCAPE '\' OR key_id LIKE ? ESCAPE '\' OR account LIKE ? ESCAPE '\' OR principal LIKE ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM lg_location l WHERE l.incident_id = i.id AND l.repository LIKE ? ESCAPE '\'))`
		args = append(args, like, like, like, like, like)
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	query += ` ORDER BY created DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.fill(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Stats computes the headline figures over all incidents, from the
// incident states and the timeline events alone.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) FROM lg_incident`), string(Open)).Scan(&st.Total, &st.Open); err != nil {
		return st, fmt.Errorf("count incidents: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT incident_id, kind, at FROM lg_event WHERE kind IN (?, ?, ?, ?)`), Pushed, Received, ContainedEvent, Notified)
	if err != nil {
		return st, fmt.Errorf("read timelines: %w", err)
	}
	defer rows.Close()
	timelines := map[string]*Incident{}
	for rows.Next() {
		var id, kind string
		var at int64
		if err := rows.Scan(&id, &kind, &at); err != nil {
			return st, err
		}
		inc := timelines[id]
		if inc == nil {
			inc = &Incident{ID: id}
			timelines[id] = inc
		}
		inc.Events = append(inc.Events, Event{Kind: kind, At: time.Unix(0, at)})
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	var contain, notify []float64
	for _, inc := range timelines {
		if d, ok := inc.Since(ContainedEvent); ok {
			contain = append(contain, d)
		}
		if d, ok := inc.Since(Notified); ok {
			notify = append(notify, d)
		}
	}
	st.ContainP50, st.ContainP95 = Percentile(contain, 0.5), Percentile(contain, 0.95)
	st.NotifyP50, st.NotifyP95 = Percentile(notify, 0.5), Percentile(notify, 0.95)
	return st, nil
}

// Percentile is the nearest-rank percentile of xs (0 when empty).
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// WatchMarks returns the last commit seen on each ref of a watched remote.
func (s *Store) WatchMarks(ctx context.Context, remote string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT ref, sha FROM lg_watch WHERE remote = ?`), remote)
	if err != nil {
		return nil, fmt.Errorf("read marks of %s: %w", remote, err)
	}
	defer rows.Close()
	marks := map[string]string{}
	for rows.Next() {
		var ref, sha string
		if err := rows.Scan(&ref, &sha); err != nil {
			return nil, err
		}
		marks[ref] = sha
	}
	return marks, rows.Err()
}

// SetWatchMark records the last commit seen on a ref of a watched remote;
// an empty sha forgets the ref (it was deleted).
func (s *Store) SetWatchMark(ctx context.Context, remote, ref, sha string) error {
	var err error
	if sha == "" {
		_, err = s.db.ExecContext(ctx, s.q(`DELETE FROM lg_watch WHERE remote = ? AND ref = ?`), remote, ref)
	} else {
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO lg_watch (remote, ref, sha) VALUES (?, ?, ?) ON CONFLICT (remote, ref) DO UPDATE SET sha = excluded.sha`), remote, ref, sha)
	}
	if err != nil {
		return fmt.Errorf("record mark of %s %s: %w", remote, ref, err)
	}
	return nil
}
