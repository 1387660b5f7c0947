// Package gittest builds real git repositories in temporary directories
// for tests: no fakes, the git binary does the work.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a work tree created by New.
type Repo struct {
	t   testing.TB
	Dir string
}

// New initialises a repository with branch main in a temporary directory.
func New(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{t: t, Dir: t.TempDir()}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Env is the environment every test git command runs with: a fixed
// identity and no user or system configuration.
func Env(name, email string) []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent",
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email,
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
}

// Git runs git in the repository and returns its trimmed output.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return r.GitAs("Alice Dev", "alice@example.test", args...)
}

// GitAs runs git with another author.
func (r *Repo) GitAs(name, email string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = Env(name, email)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write writes a file in the work tree.
func (r *Repo) Write(name, body string) {
	r.t.Helper()
	p := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// Commit stages everything and commits; it returns the commit ID.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	r.Git("add", "-A")
	r.Git("commit", "-q", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// CommitAs is Commit with another author.
func (r *Repo) CommitAs(name, email, msg string) string {
	r.t.Helper()
	r.GitAs(name, email, "add", "-A")
	r.GitAs(name, email, "commit", "-q", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// TryGit runs git and returns its error instead of failing the test
// (a merge that stops on a conflict).
func (r *Repo) TryGit(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = Env("Alice Dev", "alice@example.test")
	return cmd.Run()
}
