package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFileAppendsAndReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	ctx := context.Background()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Record(ctx, Entry{Time: time.Unix(int64(i), 0).UTC(), KeyID: "AKIAEXAMPLE", Step: "quarantine", Outcome: Done, RequestID: strings.Repeat("r", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening appends; it never truncates.
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, Entry{KeyID: "AKIAEXAMPLE", Step: "release", Outcome: Done}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	entries, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 51 || entries[50].Step != "release" {
		t.Fatalf("read %d entries, last %+v", len(entries), entries[len(entries)-1])
	}
	seen := map[int]bool{}
	for _, e := range entries[:50] {
		seen[len(e.RequestID)] = true
	}
	if len(seen) != 50 {
		t.Errorf("concurrent records interleaved or lost: %d distinct", len(seen))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReadTornLastLine(t *testing.T) {
	good := `{"time":"2026-11-29T03:00:00Z","key_id":"AKIA1","step":"quarantine","outcome":"done"}` + "\n"
	entries, err := Read(strings.NewReader(good + `{"time":"2026-11-29T03:00:01Z","key_id":"AK`))
	if err != nil || len(entries) != 1 {
		t.Fatalf("torn last line: %d entries, %v", len(entries), err)
	}
	_, err = Read(strings.NewReader(good + "not json\n" + good))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("corrupt middle line: %v", err)
	}
	if entries, err := ReadFile(filepath.Join(t.TempDir(), "missing")); err != nil || entries != nil {
		t.Fatalf("missing log: %v %v", entries, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-29T03:00:00Z","key_id":"AKIA1","step":"quarantine","outcome":"done"}` + "\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte("{\"time\":1}\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Read(strings.NewReader(string(b)))
		if err != nil && entries != nil {
			t.Fatal("entries returned with an error")
		}
	})
}
