package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/git"
)

// refUpdate is one line of a pre-receive hook's input.
type refUpdate struct{ Old, New, Ref string }

// parseRefUpdates reads "<old> <new> <ref>" lines as git gives them to a
// pre-receive hook.
func parseRefUpdates(r io.Reader) ([]refUpdate, error) {
	var out []refUpdate
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || !isHexID(f[0]) || !isHexID(f[1]) || f[2] == "" {
			return nil, fmt.Errorf("pre-receive input line %d: want \"<old> <new> <ref>\", got %q", n, truncate(line, 80))
		}
		out = append(out, refUpdate{f[0], f[1], f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pre-receive input: %w", err)
	}
	return out, nil
}

func isHexID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// preReceive is the server-side push protection: it scans the commits a
// push brings (objects still in quarantine are visible to git through the
// hook's environment) and rejects the push if they introduce a secret.
func (a *App) preReceive(ctx context.Context, run *scanRun, start time.Time) error {
	o := run.opts
	updates, err := parseRefUpdates(a.Stdin)
	if err != nil {
		fmt.Fprintf(a.Stderr, "leakguard: %v\n", err)
		return exitCode(ExitError)
	}
	run.summary.Source = "push"
	var revs []string
	for _, u := range updates {
		if strings.Trim(u.New, "0") != "" { // not a deletion
			revs = append(revs, u.New)
		}
	}
	// reject refuses a push that could not be scanned completely: exit 2,
	// as for any incomplete scan (1 is kept for secrets found).
	reject := func(format string, args ...any) error {
		fmt.Fprintf(a.Stderr, "leakguard: push rejected: "+format+"\n", args...)
		return exitCode(ExitError)
	}
	if len(revs) == 0 {
		return nil
	}
	repoDir := os.Getenv("GIT_DIR")
	if repoDir == "" {
		repoDir = "."
	}
	h, err := a.newHistoryScanner(ctx, run, repoDir)
	if err != nil {
		return reject("cannot read the repository: %v", err)
	}
	revs = append(revs, "--not", "--all")
	res, serr := h.Scan(ctx, revs, 0, run.set)
	run.summary.Commits = int64(res.Commits)
	run.addStats(res.Stats)
	rep := a.buildReport(run, serr, start)
	if o.reportTo != "" {
		// The push is decided below whatever happens here: reporting only
		// tells the service (which contains AWS keys) at once.
		if err := a.reportFindings(run); err != nil {
			fmt.Fprintf(a.Stderr, "leakguard: findings not reported: %v\n", err)
		}
	}
	if o.output != "" {
		if err := a.writeReport(o, rep); err != nil {
			fmt.Fprintf(a.Stderr, "leakguard: %v\n", err)
		}
	}
	switch {
	case errors.Is(serr, context.DeadlineExceeded):
		if o.onTimeout == "accept" {
			fmt.Fprintf(a.Stderr, "leakguard: WARNING: scan exceeded its %s budget after %d commits; push accepted unscanned by policy (--on-timeout accept)\n", o.timeout, res.Commits)
			return nil
		}
		return reject("the scan exceeded its %s budget (policy --on-timeout reject); push fewer commits at a time or ask an admin", o.timeout)
	case serr != nil || len(run.errs) > 0:
		msg := rep.Scan.Errors
		return reject("the push could not be scanned completely: %s", strings.Join(msg, "; "))
	}

	findings := rep.Findings
	if len(findings) > 0 && (o.allowBypass || configBool(ctx, h.Repo, "leakguard.allowBypass")) {
		findings = a.applyBypass(o, findings)
	}
	if len(findings) == 0 {
		return nil
	}
	a.printRejection(findings, o.allowBypass)
	return exitCode(ExitFindings)
}

func configBool(ctx context.Context, repo *git.Repo, key string) bool {
	out, err := repo.Output(ctx, "config", "--bool", "--get", key)
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// applyBypass drops findings the pusher allowed with
// git push -o leakguard.allow=FINGERPRINT and records each bypass.
func (a *App) applyBypass(o scanOptions, fs []finding.Finding) []finding.Finding {
	allowed := map[string]bool{}
	for _, opt := range pushOptions() {
		if v, ok := strings.CutPrefix(opt, "leakguard.allow="); ok {
			for _, fp := range strings.Split(v, ",") {
				allowed[strings.TrimSpace(fp)] = true
			}
		}
	}
	if len(allowed) == 0 {
		return fs
	}
	var kept []finding.Finding
	var records []bypassRecord
	for _, f := range fs {
		if !allowed[f.Fingerprint] {
			kept = append(kept, f)
			continue
		}
		l := f.Locations[0]
		records = append(records, bypassRecord{Time: nowUTC(), Pusher: pusher(), Fingerprint: f.Fingerprint, RuleID: f.RuleID, Path: l.Path, Commit: l.Commit})
	}
	if len(records) == 0 {
		return fs
	}
	path := bypassLog(o)
	lf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		// An unrecorded bypass is not a bypass.
		fmt.Fprintf(a.Stderr, "leakguard: cannot record bypass in %s: %v\n", path, err)
		return fs
	}
	defer lf.Close()
	enc := json.NewEncoder(lf)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(a.Stderr, "leakguard: cannot record bypass in %s: %v\n", path, err)
			return fs
		}
		fmt.Fprintf(a.Stderr, "leakguard: bypass accepted for %s (%s in %s), recorded\n", r.Fingerprint, r.RuleID, r.Path)
	}
	return kept
}

// printRejection tells the pusher what was found, where, and what to do,
// as GitHub's push protection does. Hook stderr reaches them as remote: lines.
func (a *App) printRejection(fs []finding.Finding, bypass bool) {
	w := a.Stderr
	fmt.Fprintln(w, "leakguard: PUSH REJECTED: this push contains secrets")
	fmt.Fprintln(w, "leakguard:")
	const maxShown = 20
	for i, f := range fs {
		if i == maxShown {
			fmt.Fprintf(w, "leakguard:   ... and %d more secrets (run leakguard scan git on the pushed commits for all of them)\nleakguard:\n", len(fs)-maxShown)
			break
		}
		fmt.Fprintf(w, "leakguard:   %s (%s, %s confidence)\n", f.Description, f.RuleID, f.Confidence)
		fmt.Fprintf(w, "leakguard:     secret: %s   fingerprint: %s\n", f.Secret, f.Fingerprint)
		for j, l := range f.Locations {
			if j == 5 {
				fmt.Fprintf(w, "leakguard:     - and %d more locations\n", len(f.Locations)-j)
				break
			}
			fmt.Fprintf(w, "leakguard:     - commit %.12s  %s:%d:%d\n", l.Commit, l.Path, l.Line, l.Column)
		}
		fmt.Fprintln(w, "leakguard:")
	}
	fmt.Fprintln(w, "leakguard: Remove the secret from these commits (git rebase -i, or git commit --amend for the last one),")
	fmt.Fprintln(w, "leakguard: rotate it at its provider, and push again.")
	if bypass {
		fmt.Fprintln(w, "leakguard: If it is a false positive or a test value, push with: git push -o leakguard.allow=FINGERPRINT")
	}
}
