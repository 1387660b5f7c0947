package incident

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
)

func openTest(t *testing.T) *Store {
	s, err := OpenStore(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func upsert(t *testing.T, s *Store, inc Incident) (string, bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, created, err := s.Upsert(ctx, tx, inc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return id, created
}

func TestUpsertDedupesByFingerprint(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	a := Incident{Fingerprint: "lg1:aaa", RuleID: "aws-access-key", Title: "AWS access key", Redacted: "AKIA****", KeyID: "AKIAEXAMPLEEXAMPLE12", Source: "push",
		Locations: []Location{{Repository: "acme/app", Commit: "c1", Path: "a.env", Line: 1}},
		Events:    []Event{{At: t0, Kind: Pushed}, {At: t0.Add(400 * time.Millisecond), Kind: Detected}}}
	id, created := upsert(t, s, a)
	if !created {
		t.Fatal("first upsert did not create")
	}
	// The same secret in another repository joins the incident; the
	// timeline keeps the first time of each kind.
	b := a
	b.Locations = []Location{{Repository: "acme/other", Commit: "c9", Path: "b.env", Line: 7}}
	b.Events = []Event{{At: t0.Add(time.Hour), Kind: Pushed}}
	id2, created := upsert(t, s, b)
	if created || id2 != id {
		t.Fatalf("second upsert: id %s created %v, want %s false", id2, created, id)
	}
	upsert(t, s, a) // the same location again: no duplicate
	inc, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Locations) != 2 {
		t.Errorf("locations %+v", inc.Locations)
	}
	if at, _ := inc.At(Pushed); !at.Equal(t0) {
		t.Errorf("pushed moved to %v", at)
	}
	if n, err := s.AddEvents(ctx, id, Event{At: t0.Add(900 * time.Millisecond), Kind: ContainedEvent}, Event{At: t0.Add(time.Minute), Kind: ContainedEvent}); err != nil || n != 1 {
		t.Errorf("AddEvents added %d (%v), want 1", n, err)
	}
	inc, _ = s.Get(ctx, id)
	if d, ok := inc.Since(ContainedEvent); !ok || d != 0.9 {
		t.Errorf("push to contained %v %v", d, ok)
	}
	if err := s.Update(ctx, id, Contained, "123456789012", "user/deploy", nil); err != nil {
		t.Fatal(err)
	}
	// Filters.
	for _, c := range []struct {
		f    Filter
		want int
	}{{Filter{}, 1}, {Filter{State: Contained}, 1}, {Filter{State: Open}, 0}, {Filter{Repository: "acme/other"}, 1}, {Filter{Repository: "acme/none"}, 0}, {Filter{Query: "deploy"}, 1}, {Filter{Query: "100%_"}, 0}} {
		list, err := s.List(ctx, c.f)
		if err != nil || len(list) != c.want {
			t.Errorf("List(%+v) = %d (%v), want %d", c.f, len(list), err, c.want)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Total != 1 || st.Open != 0 || st.ContainP50 != 0.9 {
		t.Errorf("stats %+v %v", st, err)
	}
	if err := s.Resolve(ctx, id, "alice"); err != nil {
		t.Fatal(err)
	}
	inc, _ = s.Get(ctx, id)
	if inc.State != Resolved {
		t.Errorf("state after resolve %s", inc.State)
	}
	if _, err := s.Get(ctx, "inc_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
	if err := s.Resolve(ctx, "inc_nope", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve unknown: %v", err)
	}
}

func TestAuditLogByIncident(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	log := s.AuditLog()
	for i, inc := range []string{"inc_a", "inc_b", "inc_a"} {
		if err := log.Record(ctx, audit.Entry{Time: time.Unix(int64(i), 0), Incident: inc, Step: "quarantine", Outcome: audit.Done}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Audit(ctx, "inc_a")
	if err != nil || len(got) != 2 || got[1].Time.Unix() != 2 {
		t.Errorf("audit of inc_a: %+v %v", got, err)
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if p := Percentile(xs, 0.5); p != 3 {
		t.Errorf("p50 %v", p)
	}
	if p := Percentile(xs, 0.95); p != 5 {
		t.Errorf("p95 %v", p)
	}
	if p := Percentile(nil, 0.5); p != 0 {
		t.Errorf("empty p50 %v", p)
	}
}

func TestOpenStoreRejectsUnknownDatabase(t *testing.T) {
	if _, err := OpenStore(context.Background(), "mysql://x"); err == nil {
		t.Fatal("mysql accepted")
	}
}
