package scan

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/rules"
)

func engine(t *testing.T) *detect.Engine {
	t.Helper()
	rs, err := rules.Parse(`
[[rules]]
id = "test-token"
keywords = ["tok_"]
regex = '''\b(tok_[A-Za-z0-9]{20})\b'''
`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := detect.New(rs, detect.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const secret = "tok_Zx81kLm0Qp7RtY2vBn4c"

func scanTree(t *testing.T, s *Scanner, dir string) (Stats, *finding.Set) {
	t.Helper()
	files, errs, err := FileWalker{}.Walk(context.Background(), []string{dir})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	set := finding.NewSet(nil)
	stats, err := s.Run(context.Background(), FileItems(context.Background(), files), set)
	if err != nil {
		t.Fatal(err)
	}
	return stats, set
}

func TestScannerFiles(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("filler line without secrets\n", (detect.ChunkSize/28)*2) + "x = " + secret + "\n"
	for name, body := range map[string]string{
		"a.txt":        "one " + secret + "\n",
		"sub/b.txt":    "\n\ntwo=" + secret,
		"big.log":      big,
		"image.bin":    "\x89PNG\x00\x00" + secret,
		".git/config":  secret, // version-control metadata is not a tree to scan
		"sub/huge.txt": strings.Repeat("z ", 1024) + secret,
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &Scanner{Engine: engine(t), Workers: 3, MaxFileSize: 20 << 20}
	stats, set := scanTree(t, s, dir)
	fs := set.Findings(true)
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	got := map[string]int{}
	for _, l := range fs[0].Locations {
		got[filepath.Base(l.Path)] = l.Line
	}
	want := map[string]int{"a.txt": 1, "b.txt": 3, "big.log": strings.Count(big, "\n"), "huge.txt": 1}
	if len(got) != len(want) {
		t.Fatalf("locations %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: line %d, want %d", k, got[k], v)
		}
	}
	if stats.SkippedBinary != 1 || stats.Items != 5 {
		t.Fatalf("stats %+v", stats)
	}

	// The same tree with a size limit and binary scanning.
	s = &Scanner{Engine: engine(t), MaxFileSize: 1 << 20, ScanBinary: true}
	stats, set = scanTree(t, s, dir)
	if stats.SkippedLarge != 1 || stats.SkippedBinary != 0 || len(set.Findings(true)[0].Locations) != 4 {
		t.Fatalf("stats %+v locations %d", stats, len(set.Findings(true)[0].Locations))
	}
}

// TestScannerReadErrorIsReported uses an injected failing reader: no real
// file is unreadable to root, which the tests run as on CI.
func TestScannerReadErrorIsReported(t *testing.T) {
	boom := errors.New("input/output error")
	items := make(chan Item, 2)
	items <- Item{Path: "bad.txt", Size: 10, Open: func() (io.ReadCloser, error) { return nil, boom }}
	items <- Item{Path: "half.txt", Size: -1, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("ok "+secret), errReader{boom})), nil
	}}
	close(items)
	set := finding.NewSet(nil)
	stats, err := (&Scanner{Engine: engine(t)}).Run(context.Background(), items, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Errors) != 2 || !errors.Is(stats.Errors[0], boom) {
		t.Fatalf("errors = %v, want both items reported", stats.Errors)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestScannerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	items := make(chan Item)
	if _, err := (&Scanner{Engine: engine(t)}).Run(ctx, items, finding.NewSet(nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestWalkMissingRoot(t *testing.T) {
	if _, _, err := (FileWalker{}).Walk(context.Background(), []string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("missing root accepted")
	}
}
