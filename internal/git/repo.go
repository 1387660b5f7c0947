// Package git reads repositories for scanning: commits and the blobs they
// introduce, staged changes, and the commits of a push. It runs the git
// binary in place (never cloning) with the repository's hooks, filters,
// external diff and text conversion commands switched off, and fails with
// an error whenever git does: a scan never passes over history it did not
// read.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// ZeroID is the all-zeros object ID git uses for "no object".
const ZeroID = "0000000000000000000000000000000000000000"

// EmptyTree is the ID of the empty tree (SHA-1 repositories).
const EmptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// Repo is a repository on disk.
type Repo struct {
	// Dir is the work tree or the bare repository.
	Dir string
	// Git is the git binary (default "git" on PATH).
	Git string
	// Env is appended to the process environment of every git command
	// (a pre-receive hook's GIT_QUARANTINE_PATH and friends are inherited).
	Env []string
}

// safety is passed to every git command: no command configured in the
// scanned repository runs.
var safety = []string{
	"-c", "core.fsmonitor=false",
	"-c", "core.hooksPath=/dev/null",
	"-c", "diff.external=",
	"-c", "core.pager=cat",
	"-c", "log.showSignature=false",
	"--no-pager",
	"--no-replace-objects",
}

// Error is a failed git command with what it printed.
type Error struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotRepository is returned by Open for a directory that is not a repository.
var ErrNotRepository = errors.New("not a git repository")

// Open checks that dir is a repository git can read.
func Open(ctx context.Context, dir, gitBin string) (*Repo, error) {
	if gitBin == "" {
		gitBin = "git"
	}
	if _, err := exec.LookPath(gitBin); err != nil {
		return nil, fmt.Errorf("git is required: %w", err)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("open repository %s: %w", dir, ErrNotRepository)
	}
	r := &Repo{Dir: dir, Git: gitBin}
	if _, err := r.Output(ctx, "rev-parse", "--git-dir"); err != nil {
		return nil, fmt.Errorf("open repository %s: %w: %w", dir, ErrNotRepository, err)
	}
	return r, nil
}

// Command returns a git command in the repository with the safety options.
func (r *Repo) Command(ctx context.Context, args ...string) *exec.Cmd {
	bin := r.Git
	if bin == "" {
		bin = "git"
	}
	full := append(append([]string{"-C", r.Dir}, safety...), args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C"), r.Env...)
	return cmd
}

// Output runs git and returns its standard output.
func (r *Repo) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &Error{Args: args, Err: err, Stderr: stderr.String()}
	}
	return out, nil
}

// stream runs git with stdout handed to fn; git's exit status and fn's
// error are both checked.
func (r *Repo) stream(ctx context.Context, stdin io.Reader, fn func(io.Reader) error, args ...string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := r.Command(ctx, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return &Error{Args: args, Err: err}
	}
	ferr := fn(out)
	if ferr != nil {
		cancel() // stop git; its error is secondary
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if ferr != nil {
		return ferr
	}
	if werr != nil {
		return &Error{Args: args, Err: werr, Stderr: stderr.String()}
	}
	return nil
}

// ResolveCommit returns the commit ID a revision names, or an error when
// it names nothing.
func (r *Repo) ResolveCommit(ctx context.Context, rev string) (string, error) {
	if err := CheckRev(rev); err != nil {
		return "", err
	}
	out, err := r.Output(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("unknown revision %q: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CheckRev rejects revisions that git would read as options.
func CheckRev(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, "\x00\n") {
		return fmt.Errorf("invalid revision %q", rev)
	}
	return nil
}

// RemoteURL returns the fetch URL of origin, or "".
func (r *Repo) RemoteURL(ctx context.Context) string {
	out, err := r.Output(ctx, "config", "--get", "remote.origin.url")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
