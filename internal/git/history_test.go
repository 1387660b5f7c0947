package git

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/rules"
	"github.com/leakguard/leakguard/internal/scan"
)

const (
	tokA = "tok_AAAAz81kLm0Qp7RtY2vB"
	tokB = "tok_BBBBx81kLm0Qp7RtY2vB"
	tokC = "tok_CCCCy81kLm0Qp7RtY2vB"
)

func historyScanner(t *testing.T, dir string) *HistoryScanner {
	t.Helper()
	rs, err := rules.Parse(`
[[rules]]
id = "test-token"
description = "test token"
keywords = ["tok_"]
regex = '''\b(tok_[A-Za-z0-9]{20})\b'''
`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := detect.New(rs, detect.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := Open(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return &HistoryScanner{Repo: repo, Scanner: &scan.Scanner{Engine: e}}
}

// introductions maps each secret to "commit-subject:path:line" entries.
func introductions(t *testing.T, r *gittest.Repo, fs []finding.Finding) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range fs {
		for _, l := range f.Locations {
			subject := r.Git("log", "-1", "--format=%s", l.Commit)
			out[f.Secret] = append(out[f.Secret], subject+":"+l.Path+":"+itoa(l.Line))
		}
		sort.Strings(out[f.Secret])
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func scanAll(t *testing.T, r *gittest.Repo, revs ...string) []finding.Finding {
	t.Helper()
	if len(revs) == 0 {
		revs = []string{"--all"}
	}
	set := finding.NewSet(nil)
	if _, err := historyScanner(t, r.Dir).Scan(context.Background(), revs, 0, set); err != nil {
		t.Fatal(err)
	}
	return set.Findings(false)
}

func TestHistoryIntroductions(t *testing.T) {
	r := gittest.New(t)
	r.Write("README", "hello\n")
	r.Commit("init")

	// Added, then deleted in the next commit: still in history.
	r.Write("config.env", "X=1\nTOKEN="+tokA+"\n")
	r.Commit("add token A")
	r.Write("config.env", "X=1\n")
	r.Commit("remove token A")

	// Added in a commit that renames and edits a file.
	r.Write("old.txt", "line one\nline two\n")
	r.Commit("add old")
	r.Git("mv", "old.txt", "new.txt")
	r.Write("new.txt", "line one\nline two\nkey "+tokB+"\n")
	r.Commit("rename with token B")

	// Moved to another file: not a new introduction.
	r.Write("new.txt", "line one\nline two\n")
	r.Write("moved.txt", "key "+tokB+"\n")
	r.Commit("move token B")

	// On a branch, by another author, merged with a conflict resolution
	// that introduces token C.
	r.Git("checkout", "-q", "-b", "feature")
	r.Write("app.cfg", "mode=feature\n")
	r.CommitAs("Mallory Other", "mallory@example.test", "feature mode")
	r.Git("checkout", "-q", "main")
	r.Write("app.cfg", "mode=main\n")
	r.Commit("main mode")
	if err := r.TryGit("merge", "-q", "feature", "-m", "merge feature"); err == nil {
		t.Fatal("expected a merge conflict")
	}
	r.Write("app.cfg", "mode=merged\ntoken="+tokC+"\n")
	r.Git("add", "-A")
	r.Git("commit", "-q", "--no-edit")

	want := map[string][]string{
		tokA: {"add token A:config.env:2"},
		tokB: {"rename with token B:new.txt:3"},
		tokC: {"merge feature:app.cfg:2"},
	}
	// Kept commits, and the second pass over the log for histories too
	// large to keep, give the same answer.
	set := finding.NewSet(nil)
	h := historyScanner(t, r.Dir)
	h.KeepChanges = 2
	if _, err := h.Scan(context.Background(), []string{"--all"}, 0, set); err != nil {
		t.Fatal(err)
	}
	check(t, introductions(t, r, set.Findings(false)), want)
	check(t, introductions(t, r, scanAll(t, r)), want)
}

func check(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for k, v := range want {
		if strings.Join(got[k], ";") != strings.Join(v, ";") {
			t.Errorf("%s: got %v, want %v", k[:8], got[k], v)
		}
	}
}

func TestMergeDoesNotReintroduce(t *testing.T) {
	r := gittest.New(t)
	r.Write("a.txt", "base\n")
	r.Commit("base")
	r.Git("checkout", "-q", "-b", "side")
	r.Write("b.txt", "t="+tokA+"\n")
	r.CommitAs("Bob Side", "bob@example.test", "side adds token")
	r.Git("checkout", "-q", "main")
	r.Write("c.txt", "main work\n")
	r.Commit("main work")
	r.Git("merge", "-q", "--no-ff", "side", "-m", "merge side")
	fs := scanAll(t, r)
	if len(fs) != 1 || len(fs[0].Locations) != 1 {
		t.Fatalf("got %+v", fs)
	}
	l := fs[0].Locations[0]
	if l.Author != "Bob Side" || l.Email != "bob@example.test" || l.Date != "2026-01-02T03:04:05Z" {
		t.Fatalf("location %+v", l)
	}
}

func TestNonDefaultBranchAndRanges(t *testing.T) {
	r := gittest.New(t)
	r.Write("a.txt", "base\n")
	base := r.Commit("base")
	r.Git("checkout", "-q", "-b", "topic")
	r.Write("t.txt", tokA+"\n")
	topic := r.Commit("topic token")
	r.Git("checkout", "-q", "main")

	if fs := scanAll(t, r, "main"); len(fs) != 0 {
		t.Fatalf("main alone: %d findings", len(fs))
	}
	if fs := scanAll(t, r); len(fs) != 1 {
		t.Fatalf("--all: %d findings, want the topic branch's", len(fs))
	}
	if fs := scanAll(t, r, topic, "^"+base); len(fs) != 1 {
		t.Fatalf("range: %d findings", len(fs))
	}
}

func TestStaged(t *testing.T) {
	r := gittest.New(t)
	// First commit of a repository: no HEAD yet.
	r.Write("a.txt", "k="+tokA+"\n")
	r.Git("add", "a.txt")
	r.Write("unstaged.txt", "k="+tokB+"\n") // not staged: not scanned
	set := finding.NewSet(nil)
	if _, err := historyScanner(t, r.Dir).ScanStaged(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	if fs := set.Findings(false); len(fs) != 1 || fs[0].Secret != tokA || fs[0].Locations[0].Path != "a.txt" {
		t.Fatalf("first commit: %+v", fs)
	}
	r.Commit("first")

	// An edit next to an existing secret does not re-report it; a newly
	// staged one is reported, even if the work tree changed again since.
	r.Write("a.txt", "k="+tokA+"\nother=1\n")
	r.Write("b.txt", "x="+tokC+"\n")
	r.Git("add", "a.txt", "b.txt")
	r.Write("b.txt", "x=clean\n")
	set = finding.NewSet(nil)
	if _, err := historyScanner(t, r.Dir).ScanStaged(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	if fs := set.Findings(false); len(fs) != 1 || fs[0].Secret != tokC {
		t.Fatalf("staged: %+v", fs)
	}
}

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Fatal("missing repository accepted")
	}
	if _, err := Open(ctx, t.TempDir(), ""); !errors.Is(err, ErrNotRepository) {
		t.Fatalf("plain directory: %v", err)
	}
	if _, err := Open(ctx, t.TempDir(), "/nonexistent/git"); err == nil {
		t.Fatal("missing git binary accepted")
	}

	r := gittest.New(t)
	r.Write("a.txt", "k="+tokA+"\n")
	r.Commit("one")
	h := historyScanner(t, r.Dir)
	if _, err := h.Scan(ctx, []string{"no-such-branch"}, 0, finding.NewSet(nil)); err == nil {
		t.Fatal("bad ref accepted")
	}

	// Corrupt a blob: the scan must fail, not report nothing.
	blob := r.Git("rev-parse", "HEAD:a.txt")
	obj := filepath.Join(r.Dir, ".git", "objects", blob[:2], blob[2:])
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Scan(ctx, []string{"--all"}, 0, finding.NewSet(nil)); err == nil {
		t.Fatal("corrupt object accepted")
	}
}

func TestParseRemote(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/app.git":    "github.com acme/app",
		"git@github.com:acme/app.git":        "github.com acme/app",
		"ssh://git@gitlab.com/g/sub/app":     "gitlab.com g/sub/app",
		"/srv/git/app.git":                   " ",
		"https://bitbucket.org/team/repo/":   "bitbucket.org team/repo",
		"https://user:pw@github.com/o/r.git": "github.com o/r",
	} {
		h, r := parseRemote(in)
		if h+" "+r != want {
			t.Errorf("parseRemote(%q) = %q %q, want %q", in, h, r, want)
		}
	}
	link := linker("git@github.com:acme/app.git")
	if got := link("abc", "dir/a b.go", 7); got != "https://github.com/acme/app/blob/abc/dir/a%20b.go#L7" {
		t.Errorf("link = %s", got)
	}
}

// TestRepositoryCommandsNeverRun plants every command a repository's own
// config can make git run (fsmonitor, hooks, textconv, external diff,
// clean/smudge filters, pager) and checks that scanning runs none.
func TestRepositoryCommandsNeverRun(t *testing.T) {
	r := gittest.New(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	script := filepath.Join(t.TempDir(), "evil.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho ran >> "+marker+"\ncat\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.Write("a.txt", "k="+tokA+"\n")
	r.Commit("one")
	for _, kv := range [][2]string{
		{"core.fsmonitor", script},
		{"core.hooksPath", filepath.Dir(script)},
		{"core.pager", script},
		{"diff.external", script},
		{"diff.evil.textconv", script},
		{"diff.evil.command", script},
		{"filter.evil.clean", script},
		{"filter.evil.smudge", script},
		{"filter.evil.process", script},
	} {
		r.Git("config", kv[0], kv[1])
	}
	os.Symlink(script, filepath.Join(filepath.Dir(script), "pre-commit"))
	r.Write(".gitattributes", "*.txt diff=evil filter=evil\n")
	os.Remove(marker) // the config commands above may have run git's own way
	r.Write("b.txt", "k="+tokB+"\n")
	r.Git("-c", "core.fsmonitor=", "-c", "filter.evil.clean=cat", "-c", "filter.evil.process=", "add", "b.txt", ".gitattributes")
	// Control: the planted commands are armed (plain git runs them).
	os.Remove(marker)
	r.TryGit("status")
	r.TryGit("log", "-p", "--ext-diff", "-1")
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("control failed: the planted commands did not run under plain git")
	}
	os.Remove(marker)

	set := finding.NewSet(nil)
	h := historyScanner(t, r.Dir)
	if _, err := h.ScanStaged(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Scan(context.Background(), []string{"--all"}, 0, set); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		b, _ := os.ReadFile(marker)
		t.Fatalf("a command from the repository's config ran during the scan (%d times)", strings.Count(string(b), "ran"))
	}
	if set.Len() != 2 {
		t.Fatalf("got %d secrets, want the committed and the staged one", set.Len())
	}
}

// TestSubmodulesAreNotBlobs: a gitlink names a commit of another
// repository that this one does not have; the scan must neither fail on
// it nor skip the rest of the commit.
func TestSubmodulesAreNotBlobs(t *testing.T) {
	r := gittest.New(t)
	r.Write("a.txt", "k="+tokA+"\n")
	r.Git("add", "a.txt")
	r.Git("update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,vendor/lib")
	r.Git("commit", "-q", "-m", "with submodule")
	r.Git("update-index", "--cacheinfo", "160000,89abcdef0123456789abcdef0123456789abcdef,vendor/lib")
	r.Git("commit", "-q", "-m", "bump submodule")
	fs := scanAll(t, r)
	if len(fs) != 1 || fs[0].Secret != tokA {
		t.Fatalf("got %+v", fs)
	}
}
