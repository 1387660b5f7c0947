package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/git"
)

// gitRevs turns --branch, --since and --range into git log arguments.
// ok is false when there is nothing to scan (a range A..A).
func gitRevs(ctx context.Context, repo *git.Repo, o scanOptions) (revs []string, ok bool, err error) {
	verify := func(rev string) (string, error) { return repo.ResolveCommit(ctx, rev) }
	if o.rangeSpec != "" {
		if o.branch != "" || o.since != "" {
			return nil, false, usagef("--range cannot be combined with --branch or --since")
		}
		a, b, found := strings.Cut(o.rangeSpec, "..")
		b = strings.TrimPrefix(b, ".") // A...B reads as A..B
		if !found || a == "" || b == "" {
			return nil, false, usagef("--range: want A..B, not %q", o.rangeSpec)
		}
		head, err := verify(b)
		if err != nil {
			return nil, false, err
		}
		if strings.Trim(a, "0") == "" {
			// First push of a branch: BASE is all zeros; scan all of HEAD.
			return []string{head}, true, nil
		}
		base, err := verify(a)
		if err != nil {
			return nil, false, fmt.Errorf("%w (a force push or a shallow clone? fetch the base commit)", err)
		}
		if base == head {
			return nil, false, nil
		}
		return []string{head, "^" + base}, true, nil
	}
	revs = []string{"--all"}
	if o.branch != "" {
		id, err := verify(o.branch)
		if err != nil {
			return nil, false, err
		}
		revs = []string{id}
	}
	if o.since != "" {
		id, err := verify(o.since)
		if err != nil {
			return nil, false, err
		}
		revs = append(revs, "^"+id)
	}
	return revs, true, nil
}

func (a *App) newHistoryScanner(ctx context.Context, run *scanRun, dir string) (*git.HistoryScanner, error) {
	repo, err := git.Open(ctx, dir, "")
	if err != nil {
		return nil, err
	}
	return &git.HistoryScanner{Repo: repo, Scanner: run.scanner, RemoteURL: repo.RemoteURL(ctx)}, nil
}

func (a *App) scanGit(ctx context.Context, run *scanRun, source, dir string) error {
	h, err := a.newHistoryScanner(ctx, run, dir)
	if err != nil {
		return err
	}
	if source == "staged" {
		run.summary.Source = "staged changes in " + dir
		res, err := h.ScanStaged(ctx, run.set)
		run.addStats(res.Stats)
		if err == nil && run.set.Len() > 0 {
			defer fmt.Fprintln(a.Stderr, "leakguard: commit blocked: remove the secret from the staged files (and rotate it if it was ever pushed).\n"+
				"leakguard: to commit anyway, git commit --no-verify skips this check.")
		}
		return err
	}
	run.summary.Source = "git history of " + dir
	revs, ok, err := gitRevs(ctx, h.Repo, run.opts)
	if err != nil {
		return err
	}
	var st *scanState
	var tips map[string]string
	if run.opts.statePath != "" {
		if run.opts.rangeSpec != "" || run.opts.branch != "" || run.opts.since != "" {
			return usagef("--state works on all refs: it cannot be combined with --range, --branch or --since")
		}
		if st, err = loadState(run.opts.statePath); err != nil {
			return err
		}
		if tips, err = refTips(ctx, h.Repo); err != nil {
			return err
		}
		revs = stateRevs(ctx, h.Repo, st, tips)
		ok = len(revs) > 0 && revs[0] != "--not"
	}
	if !ok {
		return nil // nothing to scan: a complete, empty scan
	}
	var bar *progressBar
	if !run.opts.noProgress && a.isTerminal(a.Stderr) {
		// The number of blobs is known only at the end: count up.
		bar = newProgressBar(a.Stderr, "blobs", 0, 0)
		run.scanner.Progress = bar
		bar.start()
	}
	res, err := h.Scan(ctx, revs, run.opts.maxCommits, run.set)
	bar.stop()
	run.summary.Commits = int64(res.Commits)
	run.addStats(res.Stats)
	if err != nil {
		return err
	}
	if st != nil && len(run.errs) == 0 {
		st.Refs = tips
		if err := saveState(run.opts.statePath, st); err != nil {
			return err
		}
	}
	return nil
}

// scanState is the --state file: ref tips already scanned.
type scanState struct {
	Version int               `json:"version"`
	Refs    map[string]string `json:"refs"`
}

func loadState(path string) (*scanState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &scanState{Version: 1, Refs: map[string]string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var st scanState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 {
		return nil, fmt.Errorf("state %s: not a LeakGuard state file (version 1): %v", path, err)
	}
	for ref, id := range st.Refs {
		if git.CheckRev(id) != nil || len(id) < 40 {
			return nil, fmt.Errorf("state %s: bad commit %q for %s", path, id, ref)
		}
	}
	return &st, nil
}

func saveState(path string, st *scanState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// refTips lists every ref's commit.
func refTips(ctx context.Context, repo *git.Repo) (map[string]string, error) {
	out, err := repo.Output(ctx, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)")
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	tips := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) == 3 && f[1] == "commit" {
			tips[f[2]] = f[0]
		}
	}
	return tips, nil
}

// stateRevs scans the current tips minus what the state says was
// scanned. Recorded commits that no longer exist (force pushes, gc) are
// dropped, which only widens the scan.
func stateRevs(ctx context.Context, repo *git.Repo, st *scanState, tips map[string]string) []string {
	var revs []string
	seen := map[string]bool{}
	for _, id := range tips {
		if !seen[id] {
			seen[id] = true
			revs = append(revs, id)
		}
	}
	done := map[string]bool{}
	for _, id := range st.Refs {
		if done[id] {
			continue
		}
		if _, err := repo.ResolveCommit(ctx, id); err == nil {
			done[id] = true
			revs = append(revs, "^"+id)
		}
	}
	if len(revs) > 0 && !strings.HasPrefix(revs[0], "^") {
		return revs
	}
	return nil
}

// pushOptions reads git push -o values from the hook environment.
func pushOptions() []string {
	var n int
	fmt.Sscan(os.Getenv("GIT_PUSH_OPTION_COUNT"), &n)
	var opts []string
	for i := 0; i < n && i < 100; i++ {
		opts = append(opts, os.Getenv(fmt.Sprintf("GIT_PUSH_OPTION_%d", i)))
	}
	return opts
}

// bypassRecord is one line of the bypass log.
type bypassRecord struct {
	Time        string `json:"time"`
	Pusher      string `json:"pusher,omitempty"`
	Fingerprint string `json:"fingerprint"`
	RuleID      string `json:"rule_id"`
	Path        string `json:"path"`
	Commit      string `json:"commit"`
}

func bypassLog(o scanOptions) string {
	if o.bypassLogPath != "" {
		return o.bypassLogPath
	}
	gitDir := os.Getenv("GIT_DIR")
	if gitDir == "" {
		gitDir = "."
	}
	return filepath.Join(gitDir, "leakguard-bypass.log")
}

func pusher() string {
	for _, k := range []string{"REMOTE_USER", "GL_USERNAME", "GITHUB_USER", "USER"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func nowUTC() string { return time.Now().UTC().Format(time.RFC3339) }
