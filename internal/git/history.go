package git

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/scan"
)

// HistoryScanner finds the secrets introduced by a set of commits.
//
// It reads each distinct blob the commits touch once (git cat-file
// --batch), scans the blobs on every core, and attributes each secret to
// the commits that introduced it: a secret is introduced by a commit
// when a file it changed holds the secret afterwards and none of the
// files it changed held it before. So a secret moved between files, or
// carried into a merge from either parent, is not introduced again, and
// a secret added in a rename-with-edits commit is.
//
// Memory holds the set of blob IDs and the matches, never the history or
// the blobs' content beyond what the scanner works on.
type HistoryScanner struct {
	Repo    *Repo
	Scanner *scan.Scanner
	// RemoteURL, when it names a known host, makes locations carry links.
	RemoteURL string
	// OnBlobs, if set, is told how many blobs will be scanned (for
	// progress) once the first pass is done.
	OnBlobs func(n int)
}

// Result describes a finished history scan.
type Result struct {
	Commits int        `json:"commits"`
	Blobs   int        `json:"blobs"`
	Stats   scan.Stats `json:"-"`
}

type blobMatch struct {
	fp  string
	m   detect.Match
	pos detect.Position
}

// inlineBlob is the largest blob held in memory; larger ones stream.
const inlineBlob = detect.ChunkSize

// Scan scans the commits that `git log REVS` lists (revs such as
// ["--all"], ["main"], ["A..B"], [NEW, "--not", "--all"]); maxCommits > 0
// limits them. Introductions are added to set.
func (h *HistoryScanner) Scan(ctx context.Context, revs []string, maxCommits int, set *finding.Set) (Result, error) {
	args := LogArgs()
	if maxCommits > 0 {
		args = append(args, "-n", strconv.Itoa(maxCommits))
	}
	args = append(args, revs...)

	// Pass 1: the blobs to read, each once, with a path for path rules.
	var res Result
	paths := map[string]string{}
	var order []string
	want := func(id, path string) {
		if id == ZeroID {
			return
		}
		if _, ok := paths[id]; !ok {
			paths[id] = path
			order = append(order, id)
		}
	}
	err := h.Repo.stream(ctx, nil, func(r io.Reader) error {
		return ParseLog(r, func(c *Commit) error {
			res.Commits++
			for _, ch := range c.Changes {
				want(ch.New, ch.Path)
				for _, o := range ch.Old {
					want(o, ch.Path)
				}
			}
			return nil
		})
	}, args...)
	if err != nil {
		return res, fmt.Errorf("read history: %w", err)
	}
	res.Blobs = len(order)
	if h.OnBlobs != nil {
		h.OnBlobs(len(order))
	}

	// Pass 2: scan every blob.
	matches, stats, err := h.scanBlobs(ctx, order, paths)
	res.Stats = stats
	if err != nil {
		return res, err
	}

	// Pass 3: attribute matches to the commits that introduced them.
	link := linker(h.RemoteURL)
	commits := 0
	err = h.Repo.stream(ctx, nil, func(r io.Reader) error {
		return ParseLog(r, func(c *Commit) error {
			commits++
			for _, ch := range c.Changes {
				if _, ok := paths[ch.New]; !ok && ch.New != ZeroID {
					return fmt.Errorf("commit %s: blob %s was not in the first pass: the repository changed during the scan", c.Hash, ch.New)
				}
			}
			date := c.Date
			if t, err := time.Parse(time.RFC3339, c.Date); err == nil {
				date = t.UTC().Format(time.RFC3339)
			}
			base := finding.Location{Commit: c.Hash, Author: c.Author, Email: c.Email, Date: date}
			attribute(c.Changes, matches, base, link, h.Scanner, set)
			return nil
		})
	}, args...)
	if err != nil {
		return res, fmt.Errorf("read history: %w", err)
	}
	if commits != res.Commits {
		return res, fmt.Errorf("read history: %d commits in the first pass, %d in the second: the repository changed during the scan", res.Commits, commits)
	}
	return res, nil
}

// attribute adds to set the secrets the changes introduce: matches of new
// blobs whose fingerprint no old blob of the same changes holds.
func attribute(changes []Change, matches map[string][]blobMatch, base finding.Location, link func(commit, path string, line int) string, sc *scan.Scanner, set *finding.Set) {
	var before map[string]bool
	for _, ch := range changes {
		for _, o := range ch.Old {
			for _, bm := range matches[o] {
				if before == nil {
					before = map[string]bool{}
				}
				before[bm.fp] = true
			}
		}
	}
	for _, ch := range changes {
		for _, bm := range matches[ch.New] {
			if before[bm.fp] {
				continue
			}
			loc := base
			loc.Path, loc.Line, loc.Column, loc.Decoded = ch.Path, bm.pos.Line, bm.pos.Column, bm.m.Decoded
			if link != nil && base.Commit != "" {
				loc.URL = link(base.Commit, ch.Path, bm.pos.Line)
			}
			set.Add(sc.Candidate(bm.m, loc))
		}
	}
}

// scanBlobs reads and scans blobs, returning the matches of each.
func (h *HistoryScanner) scanBlobs(ctx context.Context, ids []string, paths map[string]string) (map[string][]blobMatch, scan.Stats, error) {
	var mu sync.Mutex
	matches := map[string][]blobMatch{}
	sink := func(it scan.Item, m detect.Match, p detect.Position) {
		bm := blobMatch{fp: finding.Fingerprint(m.Secret), m: m, pos: p}
		mu.Lock()
		matches[it.Location.Commit] = append(matches[it.Location.Commit], bm)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan scan.Item, 64)
	readErr := make(chan error, 1)
	go func() {
		defer close(items)
		readErr <- h.Repo.ReadBlobs(ctx, ids, inlineBlob, func(b Blob) error {
			it := scan.Item{Path: paths[b.ID], Size: b.Size, Location: finding.Location{Commit: b.ID}}
			if b.Data != nil {
				data := b.Data
				it.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			} else {
				id := b.ID
				it.Open = func() (io.ReadCloser, error) { return h.Repo.OpenBlob(ctx, id) }
			}
			select {
			case items <- it:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	stats, err := h.Scanner.RunFunc(ctx, items, sink)
	if rerr := <-readErr; rerr != nil && err == nil {
		err = fmt.Errorf("read blobs: %w", rerr)
	}
	if err == nil && len(stats.Errors) > 0 {
		err = fmt.Errorf("read blobs: %w", stats.Errors[0])
	}
	return matches, stats, err
}

// linker returns a function making a web link to a line at a commit, for
// remotes on GitHub, GitLab and Bitbucket; nil for other remotes.
func linker(remote string) func(commit, path string, line int) string {
	host, repo := parseRemote(remote)
	if repo == "" {
		return nil
	}
	esc := func(p string) string { return (&url.URL{Path: p}).EscapedPath() }
	switch host {
	case "github.com":
		return func(c, p string, l int) string {
			return fmt.Sprintf("https://github.com/%s/blob/%s/%s#L%d", repo, c, esc(p), l)
		}
	case "gitlab.com":
		return func(c, p string, l int) string {
			return fmt.Sprintf("https://gitlab.com/%s/-/blob/%s/%s#L%d", repo, c, esc(p), l)
		}
	case "bitbucket.org":
		return func(c, p string, l int) string {
			return fmt.Sprintf("https://bitbucket.org/%s/src/%s/%s#lines-%d", repo, c, esc(p), l)
		}
	}
	return nil
}

// parseRemote extracts host and owner/name from https, ssh and scp-like
// remote URLs.
func parseRemote(remote string) (host, repo string) {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return "", ""
	}
	var path string
	if u, err := url.Parse(remote); err == nil && u.Host != "" {
		host, path = u.Hostname(), u.Path
	} else if at := strings.Index(remote, "@"); at >= 0 && strings.Contains(remote[at:], ":") {
		rest := remote[at+1:]
		i := strings.Index(rest, ":")
		host, path = rest[:i], rest[i+1:]
	} else {
		return "", ""
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if strings.Count(path, "/") < 1 {
		return "", ""
	}
	return strings.ToLower(host), path
}
