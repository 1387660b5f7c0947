package watch

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/pipeline"
)

// TestPollEnqueuesEachNewRange polls a real bare repository with marks in
// a real store. The enqueue function records what it is asked: the scan
// job itself is tested in internal/pipeline.
func TestPollEnqueuesEachNewRange(t *testing.T) {
	ctx := context.Background()
	store, err := incident.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dev := gittest.New(t)
	dev.Write("a.txt", "1\n")
	first := dev.Commit("one")
	bare := filepath.Join(t.TempDir(), "r.git")
	dev.Git("init", "--quiet", "--bare", bare)
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	var got []pipeline.ScanArgs
	p := &Poller{Marks: store, Enqueue: func(_ context.Context, a pipeline.ScanArgs) error { got = append(got, a); return nil }}
	r := Remote{URL: bare, Name: "acme/r"}
	if err := p.Poll(ctx, r); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Before != zeroSHA || got[0].After != first || got[0].Ref != "refs/heads/main" || got[0].Source != "watch" {
		t.Fatalf("first poll: %+v", got)
	}
	// Nothing moved: nothing asked.
	if err := p.Poll(ctx, r); err != nil || len(got) != 1 {
		t.Fatalf("idle poll: %d asks, %v", len(got), err)
	}
	dev.Write("a.txt", "2\n")
	second := dev.Commit("two")
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main", "HEAD:refs/heads/topic")
	if err := p.Poll(ctx, r); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("after push: %+v", got)
	}
	for _, a := range got[1:] {
		switch a.Ref {
		case "refs/heads/main":
			if a.Before != first || a.After != second {
				t.Errorf("main range %s..%s", a.Before, a.After)
			}
		case "refs/heads/topic":
			if a.Before != zeroSHA || a.After != second {
				t.Errorf("topic range %s..%s", a.Before, a.After)
			}
		default:
			t.Errorf("unexpected ref %s", a.Ref)
		}
	}
	// A remote that cannot be listed is an error, not silence.
	if err := p.Poll(ctx, Remote{URL: filepath.Join(t.TempDir(), "missing.git"), Name: "gone"}); err == nil {
		t.Error("polling a missing remote succeeded")
	}
}

func TestParseLsRemote(t *testing.T) {
	sha := strings.Repeat("a", 40)
	refs, err := ParseLsRemote(sha + "\trefs/heads/main\n" + sha + "\trefs/tags/v1^{}\n")
	if err != nil || len(refs) != 1 || refs["refs/heads/main"] != sha {
		t.Fatalf("%v %v", refs, err)
	}
	for _, bad := range []string{"nonsense\n", sha + " refs/heads/main\n", "zz" + sha[2:] + "\trefs/heads/x\n", sha + "\tHEAD\n"} {
		if _, err := ParseLsRemote(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseLsRemote(f *testing.F) {
	f.Add(strings.Repeat("a", 40) + "\trefs/heads/main\n")
	f.Add("\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		refs, err := ParseLsRemote(s)
		if err == nil {
			for ref, sha := range refs {
				if !strings.HasPrefix(ref, "refs/") || !isHex(sha) {
					t.Fatalf("accepted %q -> %q", ref, sha)
				}
			}
		}
	})
}
