package pipeline

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
)

func newTestPipeline(t *testing.T) (*Pipeline, *incident.Store) {
	ctx := context.Background()
	store, err := incident.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	p, err := New(ctx, Deps{Store: store, Engine: engine(t), MirrorDir: t.TempDir(), AllowLocalRemotes: true})
	if err != nil {
		t.Fatal(err)
	}
	return p, store
}

// TestConcurrentFirstFetchesShareOneMirror: several jobs of a new
// repository create and fetch its mirror at once; every one gets a usable
// mirror (a race used to leave an empty directory for good).
func TestConcurrentFirstFetchesShareOneMirror(t *testing.T) {
	p, _ := newTestPipeline(t)
	dev := gittest.New(t)
	dev.Write("a.txt", "a\n")
	sha := dev.Commit("a")
	bare := filepath.Join(t.TempDir(), "r.git")
	dev.Git("init", "--quiet", "--bare", bare)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		ref := "refs/heads/b" + string(rune('0'+i))
		dev.Git("push", "--quiet", bare, "HEAD:"+ref)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.mirror(context.Background(), ScanArgs{CloneURL: bare, Repository: "r", Ref: ref, After: sha}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNewBranchScansCommitsOtherBranchesFetched: feature (X, with a
// secret) and feature2 (Y, a child of X) are pushed together and both are
// fetched before either is scanned. Scanning feature2 alone must still find
// the secret in X: another branch in the mirror is not proof that its
// commits were scanned.
func TestNewBranchScansCommitsOtherBranchesFetched(t *testing.T) {
	p, store := newTestPipeline(t)
	ctx := context.Background()
	dev := gittest.New(t)
	dev.Write("README", "x\n")
	dev.Commit("base")
	dev.Git("checkout", "--quiet", "-b", "feature")
	dev.Write("slack.env", "SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n")
	x := dev.Commit("x")
	dev.Write("README", "y\n")
	y := dev.Commit("y")
	bare := filepath.Join(t.TempDir(), "r.git")
	dev.Git("init", "--quiet", "--bare", bare)
	dev.Git("push", "--quiet", bare, x+":refs/heads/feature", y+":refs/heads/feature2")
	zero := strings.Repeat("0", 40)
	// feature's job fetched (and crashed before scanning).
	if _, err := p.mirror(ctx, ScanArgs{CloneURL: bare, Repository: "r", Ref: "refs/heads/feature", Before: zero, After: x}); err != nil {
		t.Fatal(err)
	}
	w := &scanWorker{p: p}
	job := &river.Job[ScanArgs]{Args: ScanArgs{CloneURL: bare, Repository: "r", Ref: "refs/heads/feature2", Before: zero, After: y, PushedAt: time.Now(), ReceivedAt: time.Now(), Source: "push"}}
	if err := w.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	list, err := store.List(ctx, incident.Filter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("incidents after scanning feature2: %d (%v), want the token in X", len(list), err)
	}
	// Scanned now: feature's retry finds nothing new, and no duplicate.
	job.Args.Ref, job.Args.After = "refs/heads/feature", x
	if err := w.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	if list, _ := store.List(ctx, incident.Filter{}); len(list) != 1 {
		t.Errorf("%d incidents after the retry", len(list))
	}
}

// TestLocalRemotesRefusedByDefault: without AllowLocalRemotes a webhook
// cannot make the service fetch from its own disk.
func TestLocalRemotesRefusedByDefault(t *testing.T) {
	ctx := context.Background()
	store, err := incident.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := New(ctx, Deps{Store: store, Engine: engine(t), MirrorDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dev := gittest.New(t)
	dev.Write("a", "a\n")
	sha := dev.Commit("a")
	bare := filepath.Join(t.TempDir(), "secret.git")
	dev.Git("init", "--quiet", "--bare", bare)
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	for _, u := range []string{bare, "file://" + bare} {
		if _, err := p.mirror(ctx, ScanArgs{CloneURL: u, Repository: "x", Ref: "refs/heads/main", After: sha}); err == nil {
			t.Errorf("fetched %s", u)
		}
	}
}
