package cloudtrail

import (
	"context"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/clock"
)

// DefaultInterval is the gap Limiter leaves between calls when its
// Interval is zero. CloudTrail allows LookupEvents 2 requests per second
// per account and region.
const DefaultInterval = 500 * time.Millisecond

// Limiter spaces calls: each starts at least Interval after the previous
// one returned. Measuring from the end of the previous call, rather than
// from its start, means the server sees arrivals more than Interval apart
// however long requests spend in the client or on the network, so at most
// 1s/Interval requests reach it in any one second.
//
// Calls through one Limiter run one at a time. The zero value is ready to
// use; a Limiter must not be copied after first use.
type Limiter struct {
	Interval time.Duration                              // zero means DefaultInterval
	Now      func() time.Time                           // nil means time.Now
	Sleep    func(context.Context, time.Duration) error // nil means a timer that honours ctx

	mu   sync.Mutex
	last time.Time // when the previous call returned; zero before the first
}

// Do waits for its turn, then runs call and returns its error. It returns
// ctx's error without running call if ctx ends while waiting.
func (l *Limiter) Do(ctx context.Context, call func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, sleep := l.Now, l.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = clock.Sleep
	}
	interval := l.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	if !l.last.IsZero() {
		if err := sleep(ctx, l.last.Add(interval).Sub(now())); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := call()
	l.last = now()
	return err
}
