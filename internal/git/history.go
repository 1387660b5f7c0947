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
	// KeepChanges bounds the changed files the first pass keeps for
	// attribution (default 500,000, about 30 MB); past it the log is read
	// a second time instead.
	KeepChanges int
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

const defaultKeepChanges = 500_000

// Scan scans the commits that `git log REVS` lists (revs such as
// ["--all"], ["main"], ["A..B"], [NEW, "--not", "--all"]); maxCommits > 0
// limits them. Introductions are added to set.
//
// The log is read once while the blobs it names are read and scanned
// (git log, git cat-file and the scanner run at the same time); the
// commits are kept in a compact form for attribution unless there are
// too many, in which case the log is read again.
func (h *HistoryScanner) Scan(ctx context.Context, revs []string, maxCommits int, set *finding.Set) (Result, error) {
	args := LogArgs()
	if maxCommits > 0 {
		args = append(args, "-n", strconv.Itoa(maxCommits))
	}
	args = append(args, revs...)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var res Result
	paths := map[string]string{}    // blob -> a path it appears at
	interned := map[string]string{} // path -> one shared copy
	var kept []*Commit
	keptChanges := 0
	keep := h.KeepChanges
	if keep <= 0 {
		keep = defaultKeepChanges
	}
	ids := make(chan BlobRef, 1024)
	logErr := make(chan error, 1)
	go func() {
		defer close(ids)
		logErr <- h.Repo.stream(ctx, nil, func(r io.Reader) error {
			return ParseLog(r, func(c *Commit) error {
				res.Commits++
				for i := range c.Changes {
					ch := &c.Changes[i]
					p, ok := interned[ch.Path]
					if !ok {
						interned[ch.Path] = ch.Path
						p = ch.Path
					}
					ch.Path = p
					for _, id := range append([]string{ch.New}, ch.Old...) {
						if _, seen := paths[id]; seen || id == ZeroID {
							continue
						}
						paths[id] = p
						select {
						case ids <- BlobRef{ID: id, Path: p}:
						case <-ctx.Done():
							return ctx.Err()
						}
					}
				}
				if kept != nil || res.Commits == 1 {
					keptChanges += len(c.Changes)
					if keptChanges <= keep {
						kept = append(kept, c)
					} else {
						kept = nil // too many: read the log again later
					}
				}
				return nil
			})
		}, args...)
	}()

	matches, stats, err := h.scanBlobs(ctx, ids)
	res.Stats = stats
	if lerr := <-logErr; lerr != nil {
		return res, fmt.Errorf("read history: %w", lerr)
	}
	if err != nil {
		return res, err
	}
	res.Blobs = len(paths)

	link := linker(h.RemoteURL)
	attributeCommit := func(c *Commit) {
		date := c.Date
		if t, err := time.Parse(time.RFC3339, c.Date); err == nil {
			date = t.UTC().Format(time.RFC3339)
		}
		base := finding.Location{Commit: c.Hash, Author: c.Author, Email: c.Email, Date: date}
		attribute(c.Changes, matches, base, link, h.Scanner, set)
	}
	if kept != nil || res.Commits == 0 {
		for _, c := range kept {
			attributeCommit(c)
		}
		return res, nil
	}

	// Second pass over the log, for histories too large to keep.
	commits := 0
	err = h.Repo.stream(ctx, nil, func(r io.Reader) error {
		return ParseLog(r, func(c *Commit) error {
			commits++
			for _, ch := range c.Changes {
				if _, ok := paths[ch.New]; !ok && ch.New != ZeroID {
					return fmt.Errorf("commit %s: blob %s was not in the first pass: the repository changed during the scan", c.Hash, ch.New)
				}
			}
			attributeCommit(c)
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

// scanBlobs reads and scans the blobs named on ids, returning the
// matches of each. A blob's path (for path-based rules) is the one it
// was first seen at.
func (h *HistoryScanner) scanBlobs(ctx context.Context, ids <-chan BlobRef) (map[string][]blobMatch, scan.Stats, error) {
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
	// Few blobs wait in line: each may hold up to inlineBlob bytes.
	items := make(chan scan.Item, 8)
	readErr := make(chan error, 1)
	go func() {
		defer close(items)
		readErr <- h.Repo.ReadBlobStream(ctx, ids, inlineBlob, func(b Blob) error {
			it := scan.Item{Path: b.Path, Size: b.Size, Location: finding.Location{Commit: b.ID}}
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
