package pushhook

import (
	"container/list"
	"sync"
	"time"
)

// Replay cache defaults, used when NewReplayCache gets zero values.
const (
	DefaultReplayEntries = 10000
	DefaultReplayWindow  = 24 * time.Hour
)

// ReplayCache remembers which deliveries were accepted. Verifier.Parse
// records two keys per accepted push: the delivery ID, and the SHA-256 of
// the JSON payload (the delivery header is not covered by the signature,
// so a replay could otherwise come with a fresh ID).
type ReplayCache interface {
	// Seen records key as seen at time at and reports whether it had
	// already been recorded. It must be safe for concurrent use and must
	// check and record atomically.
	Seen(key string, at time.Time) bool
}

// MemoryReplayCache is a bounded, concurrency-safe, in-memory ReplayCache.
// A key is remembered for the window after it is first seen, and when the
// cache is full the oldest key is forgotten first. It does not survive a
// restart and is not shared between server replicas.
type MemoryReplayCache struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	order *list.List // of *replayEntry, oldest first
	byKey map[string]*list.Element
}

type replayEntry struct {
	key string
	at  time.Time
}

// NewReplayCache returns a cache holding at most max keys for window each.
// Zero or negative values select DefaultReplayEntries and
// DefaultReplayWindow.
func NewReplayCache(max int, window time.Duration) *MemoryReplayCache {
	if max <= 0 {
		max = DefaultReplayEntries
	}
	if window <= 0 {
		window = DefaultReplayWindow
	}
	return &MemoryReplayCache{
		max:    max,
		window: window,
		order:  list.New(),
		byKey:  make(map[string]*list.Element),
	}
}

// Seen implements ReplayCache.
// Forget drops key, as if it had never been seen.
func (c *MemoryReplayCache) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.remove(el)
	}
}

func (c *MemoryReplayCache) Seen(key string, at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(at)
	if el, ok := c.byKey[key]; ok {
		// Keep the first-seen time: the window does not slide on replays.
		if at.Sub(el.Value.(*replayEntry).at) < c.window {
			return true
		}
		c.remove(el) // expired but not at the front: the clock went back
	}
	c.byKey[key] = c.order.PushBack(&replayEntry{key: key, at: at})
	for c.order.Len() > c.max {
		c.remove(c.order.Front())
	}
	return false
}

// Len returns the number of keys currently remembered.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// expire forgets keys older than the window. Entries are in insertion
// order; with a clock that never goes backwards that is also time order.
func (c *MemoryReplayCache) expire(now time.Time) {
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		if now.Sub(el.Value.(*replayEntry).at) < c.window {
			return
		}
		c.remove(el)
	}
}

func (c *MemoryReplayCache) remove(el *list.Element) {
	delete(c.byKey, el.Value.(*replayEntry).key)
	c.order.Remove(el)
}
