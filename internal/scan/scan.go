// Package scan runs the detection engine over sources (files, streams and,
// later, git objects) on every core, and collects what it finds into a
// finding.Set. It decides nothing about output.
package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/rules"
)

// Item is one piece of content to scan.
type Item struct {
	// Path is reported in locations; it also selects path-based behaviour
	// (lock files).
	Path string
	// Size is the content's size when known, -1 otherwise.
	Size int64
	// Open returns the content.
	Open func() (io.ReadCloser, error)
	// Location is copied into every location found in this item (git
	// provenance); Path, Line and Column are filled in.
	Location finding.Location
}

// Progress receives counts as items finish. Implementations must be safe
// for concurrent use.
type Progress interface {
	Add(items int, bytes int64)
}

// Scanner scans items concurrently.
type Scanner struct {
	Engine *detect.Engine
	// Workers defaults to the number of CPUs.
	Workers int
	// MaxFileSize skips items larger than this many bytes (0: no limit).
	// A stream of unknown size (stdin) is always scanned whole: cutting it
	// would hide what lies past the limit.
	MaxFileSize int64
	// ScanBinary scans content that sniffs as binary instead of skipping it.
	ScanBinary bool
	// MinConfidence drops matches below it.
	MinConfidence rules.Confidence
	// Exclude, if set, skips items whose path it returns true for (the
	// configuration's path allowlist).
	Exclude func(path string) bool
	// Progress, if set, is told about each finished item.
	Progress Progress

	ruleInfo map[string]finding.Rule
	once     sync.Once
}

// Stats summarise a scan.
type Stats struct {
	Items         int64 `json:"items"`
	Bytes         int64 `json:"bytes"`
	SkippedBinary int64 `json:"skipped_binary"`
	SkippedLarge  int64 `json:"skipped_large"`
	// Errors are items that could not be read: the scan is incomplete.
	Errors []error `json:"-"`
}

// ItemError is a failure to read one item.
type ItemError struct {
	Path string
	Err  error
}

func (e *ItemError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// sniffSize is how much of an item is inspected to decide it is binary.
const sniffSize = 8 << 10

// Run scans every item received from items until the channel closes or
// ctx is done, adding findings to set. It returns ctx's error when
// cancelled: a cancelled scan is incomplete.
func (s *Scanner) Run(ctx context.Context, items <-chan Item, set *finding.Set) (Stats, error) {
	return s.RunFunc(ctx, items, func(it Item, m detect.Match, p detect.Position) {
		loc := it.Location
		loc.Path, loc.Line, loc.Column = it.Path, p.Line, p.Column
		loc.Decoded = m.Decoded
		set.Add(s.Candidate(m, loc))
	})
}

// RunFunc is Run with every match at or above MinConfidence handed to
// sink instead of a finding.Set (git scanning attributes matches to
// commits before they become findings). sink is called concurrently.
func (s *Scanner) RunFunc(ctx context.Context, items <-chan Item, sink func(Item, detect.Match, detect.Position)) (Stats, error) {
	s.once.Do(s.init)
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		wg                     sync.WaitGroup
		mu                     sync.Mutex
		stats                  Stats
		nItems, nBytes, nB, nL atomic.Int64
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				var it Item
				var ok bool
				select {
				case <-ctx.Done():
					return
				case it, ok = <-items:
					if !ok {
						return
					}
				}
				n, skipped, err := s.scanItem(it, &buf, sink)
				switch {
				case err != nil:
					mu.Lock()
					stats.Errors = append(stats.Errors, &ItemError{Path: it.Path, Err: err})
					mu.Unlock()
				case skipped == skipBinary:
					nB.Add(1)
				case skipped == skipLarge:
					nL.Add(1)
				}
				nItems.Add(1)
				nBytes.Add(n)
				if s.Progress != nil {
					s.Progress.Add(1, n)
				}
			}
		}()
	}
	wg.Wait()
	stats.Items, stats.Bytes, stats.SkippedBinary, stats.SkippedLarge = nItems.Load(), nBytes.Load(), nB.Load(), nL.Load()
	if err := ctx.Err(); err != nil {
		return stats, fmt.Errorf("scan interrupted after %d items: %w", stats.Items, err)
	}
	return stats, nil
}

func (s *Scanner) init() {
	s.ruleInfo = map[string]finding.Rule{}
	for _, r := range s.Engine.Rules() {
		s.ruleInfo[r.ID] = finding.Rule{ID: r.ID, Description: r.Description, Provider: r.Provider, Hint: r.Hint, Generic: r.Generic}
	}
}

type skipReason int

const (
	skipNone skipReason = iota
	skipBinary
	skipLarge
)

// scanItem scans one item; buf is the worker's reusable buffer.
func (s *Scanner) scanItem(it Item, buf *[]byte, sink func(Item, detect.Match, detect.Position)) (int64, skipReason, error) {
	if s.Exclude != nil && s.Exclude(it.Path) {
		return 0, skipNone, nil
	}
	if s.MaxFileSize > 0 && it.Size > s.MaxFileSize {
		return 0, skipLarge, nil
	}
	for _, r := range s.Engine.PathOnly(it.Path) {
		// A file that is a secret by its kind (a keystore): report it,
		// identified by its content's hash.
		sum, err := hashItem(it)
		if err != nil {
			return 0, skipNone, err
		}
		m := detect.Match{RuleID: r.ID, Secret: "sha256:" + sum, Confidence: r.Confidence}
		if m.Confidence >= s.MinConfidence {
			sink(it, m, detect.Position{Line: 1, Column: 1})
		}
	}
	rc, err := it.Open()
	if err != nil {
		return 0, skipNone, err
	}
	defer rc.Close()

	// Read up to ChunkSize: most items fit and are scanned in one piece.
	b := (*buf)[:0]
	want := detect.ChunkSize
	if it.Size >= 0 && it.Size < int64(want) {
		want = int(it.Size) + 1 // +1 to see EOF without a second read
	}
	if cap(b) < want {
		b = make([]byte, 0, want)
	}
	n, err := io.ReadFull(rc, b[:want])
	b = b[:n]
	*buf = b
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !eof {
		return int64(n), skipNone, err
	}
	if !s.ScanBinary && isBinary(b) {
		return int64(n), skipBinary, nil
	}
	t := detect.Target{Path: it.Path}
	emit := func(m detect.Match, p detect.Position) {
		if m.Confidence >= s.MinConfidence {
			sink(it, m, p)
		}
	}
	if eof {
		s.Engine.ScanBuffer(b, t, emit)
		return int64(n), skipNone, nil
	}
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(b), rc)}
	if err := s.Engine.ScanStream(cr, t, emit); err != nil {
		return cr.n, skipNone, err
	}
	return cr.n, skipNone, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Candidate turns a match and its location into a finding candidate.
func (s *Scanner) Candidate(m detect.Match, loc finding.Location) finding.Candidate {
	s.once.Do(s.init)
	return finding.Candidate{
		Rule:       s.ruleInfo[m.RuleID],
		Secret:     m.Secret,
		Identifier: m.Identifier,
		Confidence: int(m.Confidence),
		Attributes: m.Attrs,
		Location:   loc,
	}
}

// isBinary sniffs content: a NUL byte in the first 8 KiB means binary.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), sniffSize)], 0) >= 0
}

// hashItem returns the hex SHA-256 of an item's content.
func hashItem(it Item) (string, error) {
	rc, err := it.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
