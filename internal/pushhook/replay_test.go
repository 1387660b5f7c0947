package pushhook

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReplayCacheWindow(t *testing.T) {
	c := NewReplayCache(10, time.Minute)
	if c.Seen("a", epoch) {
		t.Fatal("first Seen(a) = true")
	}
	if !c.Seen("a", epoch.Add(59*time.Second)) {
		t.Fatal("Seen(a) inside the window = false")
	}
	// The window counts from the first sighting, not the last.
	if c.Seen("a", epoch.Add(61*time.Second)) {
		t.Fatal("Seen(a) after the window = true")
	}
	if !c.Seen("a", epoch.Add(62*time.Second)) {
		t.Fatal("Seen(a) right after re-recording = false")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (expired entries dropped)", c.Len())
	}
}

func TestReplayCacheIsBounded(t *testing.T) {
	c := NewReplayCache(3, time.Hour)
	for i := range 5 {
		if c.Seen(fmt.Sprint(i), epoch) {
			t.Fatalf("Seen(%d) = true on first sight", i)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	if c.Seen("0", epoch) {
		t.Error("the oldest key was not evicted")
	}
	if !c.Seen("4", epoch) {
		t.Error("the newest key was evicted")
	}
}

func TestReplayCacheClockGoingBack(t *testing.T) {
	c := NewReplayCache(10, time.Minute)
	c.Seen("late", epoch.Add(time.Hour))
	c.Seen("early", epoch)
	// "early" sits behind a newer entry; it still expires on lookup.
	if c.Seen("early", epoch.Add(2*time.Minute)) {
		t.Fatal("expired entry behind a newer one reported as seen")
	}
}

func TestReplayCacheDefaults(t *testing.T) {
	c := NewReplayCache(0, -1)
	if c.max != DefaultReplayEntries || c.window != DefaultReplayWindow {
		t.Fatalf("defaults = %d, %v", c.max, c.window)
	}
}

func TestReplayCacheConcurrentSeenIsAtomic(t *testing.T) {
	c := NewReplayCache(100, time.Hour)
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if !c.Seen(fmt.Sprint("k", i), epoch) {
					fresh.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 50 {
		t.Fatalf("%d callers saw a key first, want exactly 50 (one per key)", fresh.Load())
	}
}

// TestForgetAcceptsRedelivery: a push the server could not record is
// forgotten, so GitHub's redelivery (same ID, same body) is taken.
func TestForgetAcceptsRedelivery(t *testing.T) {
	v, _ := newVerifier()
	body := fixture(t, "github-push.json")
	p, err := v.Parse(githubRequest(body, "push", "d-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Parse(githubRequest(body, "push", "d-1")); !errors.Is(err, ErrReplay) {
		t.Fatalf("redelivery before Forget: %v", err)
	}
	v.Forget(p)
	if _, err := v.Parse(githubRequest(body, "push", "d-1")); err != nil {
		t.Fatalf("redelivery after Forget: %v", err)
	}
}
