package git

import (
	"bytes"
	"context"
	"fmt"

	"github.com/leakguard/leakguard/internal/finding"
)

// StagedChanges returns what the index would commit: the changes of the
// index against HEAD, or against the empty tree before the first commit.
func (r *Repo) StagedChanges(ctx context.Context) ([]Change, error) {
	base := EmptyTree
	if out, err := r.Output(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err == nil {
		base = string(bytes.TrimSpace(out))
	}
	out, err := r.Output(ctx, "diff-index", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", base)
	if err != nil {
		return nil, fmt.Errorf("read staged changes: %w", err)
	}
	changes, err := ParseRaw(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("read staged changes: %w", err)
	}
	return changes, nil
}

// ScanStaged finds the secrets the staged changes introduce.
func (h *HistoryScanner) ScanStaged(ctx context.Context, set *finding.Set) (Result, error) {
	changes, err := h.Repo.StagedChanges(ctx)
	if err != nil {
		return Result{}, err
	}
	seen := map[string]bool{}
	ids := make(chan BlobRef, 2*len(changes)+1)
	for _, ch := range changes {
		for _, id := range append([]string{ch.New}, ch.Old...) {
			if !seen[id] && id != ZeroID {
				seen[id] = true
				ids <- BlobRef{ID: id, Path: ch.Path}
			}
		}
	}
	close(ids)
	matches, stats, err := h.scanBlobs(ctx, ids)
	res := Result{Blobs: len(seen), Stats: stats}
	if err != nil {
		return res, err
	}
	attribute(changes, matches, finding.Location{}, nil, h.Scanner, set)
	return res, nil
}
