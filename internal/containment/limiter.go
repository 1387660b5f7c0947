package containment

import (
	"context"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// limiter is a token bucket spacing one account's API calls so that many
// concurrent containments stay under AWS's request-rate limits. It sits
// after the SDK's retry middleware, so retries wait for tokens too.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// wait takes a token, sleeping until one is available.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	if l.last.IsZero() {
		l.tokens = l.burst
	} else {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	l.tokens--
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d == 0 {
		return nil
	}
	return l.sleep(ctx, d)
}

func (l *limiter) middleware(st *middleware.Stack) error {
	return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("LeakGuardRateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := l.wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

// limiterFor returns the shared limiter of one account ("" is the
// responder's own identity).
func (r *Responder) limiterFor(account string) *limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.limiters[account]; ok {
		return l
	}
	rate := r.RequestsPerSecond
	if rate <= 0 {
		rate = 20
	}
	l := &limiter{rate: rate, burst: rate, now: time.Now, sleep: r.sleep}
	if r.limiters == nil {
		r.limiters = map[string]*limiter{}
	}
	r.limiters[account] = l
	return l
}
