package incident

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreOnPostgres: the store keeps its SQLite semantics on PostgreSQL
// (placeholders, ON CONFLICT, LIKE … ESCAPE, BIGINT times): one incident
// per fingerprint, the first time of each event kind, filters, stats,
// resolve and the audit log by incident.
func TestStoreOnPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	s := openPostgres(t, dsn)
	if !s.Postgres() {
		t.Fatal("a postgres:// store does not say it is PostgreSQL")
	}
	// A second node opens the migrated database.
	s2 := openPostgres(t, dsn)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	a := Incident{Fingerprint: "lg1:aaa", RuleID: "aws-access-key", Title: "AWS access key", Redacted: "AKIA****", KeyID: "AKIAEXAMPLEEXAMPLE12", Source: "push",
		Locations: []Location{{Repository: "acme/app", Commit: "c1", Path: "a.env", Line: 1, Time: t0.Add(-time.Minute)}},
		Events:    []Event{{At: t0, Kind: Pushed}, {At: t0.Add(400 * time.Millisecond), Kind: Detected}}}
	id, created := upsert(t, s, a)
	if !created {
		t.Fatal("first upsert did not create")
	}
	// The same secret in another repository, seen by the other node,
	// joins the incident; the timeline keeps the first time of each kind.
	b := a
	b.Locations = []Location{{Repository: "acme/other", Commit: "c9", Path: "b.env", Line: 7}}
	b.Events = []Event{{At: t0.Add(time.Hour), Kind: Pushed}}
	id2, created := upsert(t, s2, b)
	if created || id2 != id {
		t.Fatalf("second upsert: id %s created %v, want %s false", id2, created, id)
	}
	upsert(t, s, a) // the same location again: no duplicate
	inc, err := s2.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Ordered by time, a location without one first.
	if len(inc.Locations) != 2 || inc.Locations[0].Repository != "acme/other" || !inc.Locations[0].Time.IsZero() || inc.Locations[0].Line != 7 ||
		inc.Locations[1].Repository != "acme/app" || !inc.Locations[1].Time.Equal(t0.Add(-time.Minute)) {
		t.Errorf("locations %+v", inc.Locations)
	}
	if at, _ := inc.At(Pushed); !at.Equal(t0) {
		t.Errorf("pushed moved to %v", at)
	}
	if inc.State != Open || inc.KeyID != a.KeyID || inc.Created.IsZero() || len(inc.Activity) != 0 {
		t.Errorf("incident %+v", inc)
	}
	if n, err := s.AddEvents(ctx, id, Event{At: t0.Add(900 * time.Millisecond), Kind: ContainedEvent}, Event{At: t0.Add(time.Minute), Kind: ContainedEvent}); err != nil || n != 1 {
		t.Errorf("AddEvents added %d (%v), want 1", n, err)
	}
	if n, err := s2.AddEvents(ctx, id, Event{At: t0.Add(time.Minute), Kind: ContainedEvent}); err != nil || n != 0 {
		t.Errorf("AddEvents of a recorded kind on the other node added %d (%v), want 0", n, err)
	}
	inc, _ = s.Get(ctx, id)
	if d, ok := inc.Since(ContainedEvent); !ok || d != 0.9 {
		t.Errorf("push to contained %v %v", d, ok)
	}
	// Update: empty values keep what is stored, nil activity too.
	call := cloudtrail.Event{Time: t0.Add(2 * time.Minute), Service: "iam", Name: "ListUsers", SourceIP: "203.0.113.9"}
	if err := s.Update(ctx, id, Contained, "123456789012", "user/deploy", []cloudtrail.Event{call}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Update(ctx, id, "", "", "", nil); err != nil {
		t.Fatal(err)
	}
	inc, _ = s.Get(ctx, id)
	if inc.State != Contained || inc.Account != "123456789012" || inc.Principal != "user/deploy" || len(inc.Activity) != 1 || inc.Activity[0].Name != "ListUsers" {
		t.Errorf("after update %+v", inc)
	}
	// Another incident, newer, to order and filter.
	other, _ := upsert(t, s2, Incident{Fingerprint: "lg1:bbb", RuleID: "github-pat", Title: "GitHub token", Redacted: "ghp_****", Source: "push",
		Locations: []Location{{Repository: "acme/web", Commit: "c3", Path: "c.txt", Line: 3}}})
	for _, c := range []struct {
		f    Filter
		want []string
	}{
		{Filter{}, []string{other, id}},
		{Filter{State: Contained}, []string{id}},
		{Filter{State: Open}, []string{other}},
		{Filter{Repository: "acme/other"}, []string{id}},
		{Filter{Repository: "acme/none"}, nil},
		{Filter{Query: "deploy"}, []string{id}},
		{Filter{Query: "acme/we"}, []string{other}},
		{Filter{Query: "100%_"}, nil},
		{Filter{Query: `\`}, nil},
		{Filter{Limit: 1}, []string{other}},
	} {
		list, err := s.List(ctx, c.f)
		var got []string
		for _, inc := range list {
			got = append(got, inc.ID)
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %v (%v), want %v", c.f, got, err, c.want)
		}
	}
	st, err := s2.Stats(ctx)
	if err != nil || st.Total != 2 || st.Open != 1 || st.ContainP50 != 0.9 {
		t.Errorf("stats %+v %v", st, err)
	}
	if got, err := s2.FindByFingerprint(ctx, "lg1:aaa"); err != nil || got.ID != id {
		t.Errorf("FindByFingerprint: %s %v", got.ID, err)
	}
	if err := s.Resolve(ctx, id, "alice"); err != nil {
		t.Fatal(err)
	}
	inc, _ = s2.Get(ctx, id)
	if e, ok := inc.At(ResolvedEvent); inc.State != Resolved || !ok || e.IsZero() {
		t.Errorf("after resolve: state %s, events %+v", inc.State, inc.Events)
	}
	if _, err := s.Get(ctx, "inc_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
	if _, err := s.FindByFingerprint(ctx, "lg1:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown fingerprint: %v", err)
	}
	if err := s.Resolve(ctx, "inc_nope", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve unknown: %v", err)
	}
	// The audit log, written by both nodes, read in order.
	for i, node := range []*Store{s, s2, s} {
		inc := []string{id, other, id}[i]
		if err := node.AuditLog().Record(ctx, audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Incident: inc, Step: "quarantine", Outcome: audit.Done}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s2.Audit(ctx, id)
	if err != nil || len(got) != 2 || !got[1].Time.Equal(t0.Add(2*time.Second)) || got[0].Step != "quarantine" {
		t.Errorf("audit of %s: %+v %v", id, got, err)
	}
}

// TestUpsertRaceOnPostgres: nodes that find the same secret at the same
// time make one incident between them, and every one of them gets its ID.
func TestUpsertRaceOnPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	nodes := []*Store{openPostgres(t, dsn), openPostgres(t, dsn)}
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
	)
	for i := range n {
		wg.Go(func() {
			s := nodes[i%2]
			ctx := context.Background()
			tx, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer tx.Rollback()
			id, c, err := s.Upsert(ctx, tx, Incident{Fingerprint: "lg1:race", RuleID: "aws-access-key", Title: "AWS access key", Redacted: "AKIA****", Source: "push",
				Locations: []Location{{Repository: "acme/app", Commit: "c1", Path: "a.env", Line: 1}},
				Events:    []Event{{At: time.Unix(int64(i), 0), Kind: Detected}}})
			if err == nil {
				err = tx.Commit()
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[id]++
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d concurrent upserts: ids %v, %d created; want one incident created once", n, ids, created)
	}
	list, err := nodes[0].List(context.Background(), Filter{})
	if err != nil || len(list) != 1 || len(list[0].Locations) != 1 || len(list[0].Events) != 1 {
		t.Errorf("after the race: %+v %v", list, err)
	}
}
