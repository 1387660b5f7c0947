package pipeline

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/respond"
)

// TestAllowListedFingerprintIsDismissed: a known test key is recorded as
// dismissed and no response starts; another key does get one.
func TestAllowListedFingerprintIsDismissed(t *testing.T) {
	ctx := context.Background()
	store, err := incident.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const testKey, realKey = "AKIAQYLPMN5HHHFPZAM2", "AKIAQYLPMN5HFIQR7XYA"
	var responses atomic.Int32
	p, err := New(ctx, Deps{Store: store, Engine: engine(t), MirrorDir: t.TempDir(), Allow: []string{finding.Fingerprint(testKey)},
		Playbook: func(string) (*respond.Playbook, error) { responses.Add(1); return nil, context.Canceled }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(ctx)
	now := time.Now()
	for _, k := range []string{testKey, realKey} {
		if _, err := p.RecordReported(ctx, "acme/app", Reported{RuleID: "aws-access-key", Fingerprint: finding.Fingerprint(k), KeyID: k, Redacted: "AKIA****"}, now); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for responses.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a response to the test key, if one were queued, would have started
	if n := responses.Load(); n != 1 {
		t.Fatalf("%d response attempts, want 1 (the real key only)", n)
	}
	inc, err := store.FindByFingerprint(ctx, finding.Fingerprint(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inc.At(incident.DismissedEvent); inc.State != incident.Dismissed || !ok {
		t.Errorf("test key incident: state %s, events %+v", inc.State, inc.Events)
	}
}
