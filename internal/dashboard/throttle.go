package dashboard

import (
	"sync"
	"time"
)

// Sign-in attempts: after throttleFailures failures within throttleWindow
// for one username, or from one address, further attempts are refused
// until the oldest failure leaves the window.
const (
	throttleFailures = 5
	throttleWindow   = 15 * time.Minute
)

// throttle counts failed sign-ins per key ("user:…", "addr:…").
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	now   func() time.Time
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{fails: map[string][]time.Time{}, now: now}
}

// blocked reports how long until one of keys may try again; 0 means now.
func (t *throttle) blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		f := t.prune(k, now)
		if len(f) >= throttleFailures {
			wait = max(wait, f[0].Add(throttleWindow).Sub(now))
		}
	}
	return wait
}

// fail records a failed attempt under each key.
func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		t.fails[k] = append(t.prune(k, now), now)
	}
}

// reset forgets a key's failures (a successful sign-in).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}

// prune drops failures older than the window; the caller holds mu.
func (t *throttle) prune(k string, now time.Time) []time.Time {
	f := t.fails[k]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= throttleWindow {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, k)
		return nil
	}
	t.fails[k] = f
	return f
}
