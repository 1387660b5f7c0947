package scan

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FileWalker lists the regular files under a set of roots.
type FileWalker struct {
	// Exclude, if set, skips paths (files and directories) it returns true for.
	Exclude func(path string) bool
}

// File is a regular file found by a walk.
type File struct {
	Path string
	Size int64
}

// skipDirs are version-control metadata, never scanned as a tree.
var skipDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, ".jj": true}

// Walk returns the regular files under roots (a root may be a file), in
// lexical order. Symbolic links are not followed. A root that does not
// exist is an error; an unreadable directory below a root is reported in
// errs and the walk goes on.
func (w FileWalker) Walk(ctx context.Context, roots []string) (files []File, errs []error, err error) {
	for _, root := range roots {
		if _, err := os.Lstat(root); err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", root, err)
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &ItemError{Path: p, Err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() {
				if p != root && (skipDirs[d.Name()] || w.Exclude != nil && w.Exclude(p)) {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || w.Exclude != nil && w.Exclude(p) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				errs = append(errs, &ItemError{Path: p, Err: err})
				return nil
			}
			files = append(files, File{Path: p, Size: info.Size()})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("walk %s: %w", root, err)
		}
	}
	return files, errs, nil
}

// FileItems sends one Item per file and closes the channel.
func FileItems(ctx context.Context, files []File) <-chan Item {
	ch := make(chan Item, 64)
	go func() {
		defer close(ch)
		for _, f := range files {
			p := f.Path
			it := Item{Path: filepath.ToSlash(p), Size: f.Size, Open: func() (io.ReadCloser, error) { return os.Open(p) }}
			select {
			case ch <- it:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// ReaderItem wraps a stream (stdin) as a single Item.
func ReaderItem(name string, r io.Reader) <-chan Item {
	ch := make(chan Item, 1)
	ch <- Item{Path: name, Size: -1, Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}
	close(ch)
	return ch
}
