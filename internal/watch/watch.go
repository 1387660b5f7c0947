// Package watch polls git remotes that cannot send webhooks: it lists
// their refs with `git ls-remote`, compares them with the last commit
// seen per ref (kept in the incident database), and asks for each new
// commit range to be scanned. A crash between asking and recording the
// mark asks again, which the pipeline deduplicates.
package watch

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/pipeline"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// Remote is one watched repository.
type Remote struct {
	URL     string
	Name    string // e.g. "acme/app"
	HTMLURL string
}

// Marks stores the last commit seen per ref.
type Marks interface {
	WatchMarks(ctx context.Context, remote string) (map[string]string, error)
	SetWatchMark(ctx context.Context, remote, ref, sha string) error
}

// Poller watches remotes.
type Poller struct {
	Remotes  []Remote
	Marks    Marks
	Enqueue  func(context.Context, pipeline.ScanArgs) error
	Interval time.Duration // default 30s
	GitBin   string        // default "git"
	Logger   *slog.Logger
	Now      func() time.Time
}

// Run polls every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	interval := p.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, r := range p.Remotes {
			if err := p.Poll(ctx, r); err != nil && ctx.Err() == nil {
				p.logger().Warn("watch poll failed", "remote", r.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// Poll checks one remote once and enqueues a scan per moved ref.
func (p *Poller) Poll(ctx context.Context, r Remote) error {
	git := p.GitBin
	if git == "" {
		git = "git"
	}
	lsCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(lsCtx, git, "-c", "protocol.file.allow=always", "ls-remote", "--heads", "--tags", "--", r.URL)
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-remote %s: %w", r.Name, err)
	}
	refs, err := ParseLsRemote(string(out))
	if err != nil {
		return fmt.Errorf("git ls-remote %s: %w", r.Name, err)
	}
	marks, err := p.Marks.WatchMarks(ctx, r.URL)
	if err != nil {
		return err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	for ref, sha := range refs {
		old := marks[ref]
		if old == sha {
			continue
		}
		before := old
		if before == "" {
			before = zeroSHA
		}
		at := now().UTC()
		if err := p.Enqueue(ctx, pipeline.ScanArgs{CloneURL: r.URL, Repository: r.Name, HTMLURL: r.HTMLURL, Ref: ref, Before: before, After: sha, PushedAt: at, ReceivedAt: at, Source: "watch"}); err != nil {
			return err
		}
		if err := p.Marks.SetWatchMark(ctx, r.URL, ref, sha); err != nil {
			return err
		}
	}
	for ref := range marks {
		if _, ok := refs[ref]; !ok {
			if err := p.Marks.SetWatchMark(ctx, r.URL, ref, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseLsRemote reads `git ls-remote` output: "SHA<TAB>REF" lines. Peeled
// tag lines (REF^{}) are skipped; anything else malformed is an error.
func ParseLsRemote(out string) (map[string]string, error) {
	refs := map[string]string{}
	for i, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		sha, ref, ok := strings.Cut(line, "\t")
		if !ok || !isHex(sha) || !strings.HasPrefix(ref, "refs/") {
			return nil, fmt.Errorf("line %d: not SHA<TAB>ref", i+1)
		}
		if strings.HasSuffix(ref, "^{}") {
			continue
		}
		refs[ref] = sha
	}
	return refs, nil
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
