package cloudtrail

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// fakeClock is a clock whose Sleep advances it.
type fakeClock struct {
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.slept = append(c.slept, d)
		c.now = c.now.Add(d)
	}
	return nil
}

func TestLimiterSpacesCallsFromTheirEnd(t *testing.T) {
	c := &fakeClock{now: pushed}
	l := &Limiter{Interval: 500 * time.Millisecond, Now: c.Now, Sleep: c.Sleep}
	var starts []time.Duration
	call := func(took time.Duration) func() error {
		return func() error {
			starts = append(starts, c.now.Sub(pushed))
			c.now = c.now.Add(took)
			return nil
		}
	}
	ctx := context.Background()
	steps := []struct {
		idle, took time.Duration // idle: time passing before the call is asked for
	}{
		{0, 100 * time.Millisecond},                     // first call: no wait
		{0, 300 * time.Millisecond},                     // 500ms after the first ended at 100ms
		{200 * time.Millisecond, 50 * time.Millisecond}, // asked 200ms after the second ended at 900ms: waits 300ms more
		{2 * time.Second, 10 * time.Millisecond},        // long idle: no wait
	}
	for _, s := range steps {
		c.now = c.now.Add(s.idle)
		if err := l.Do(ctx, call(s.took)); err != nil {
			t.Fatal(err)
		}
	}
	ms := time.Millisecond
	if want := []time.Duration{0, 600 * ms, 1400 * ms, 3450 * ms}; !slices.Equal(starts, want) {
		t.Errorf("calls started at %v, want %v", starts, want)
	}
	if want := []time.Duration{500 * ms, 300 * ms}; !slices.Equal(c.slept, want) {
		t.Errorf("slept %v, want %v", c.slept, want)
	}
}

func TestLimiterZeroValueUsesDefaultInterval(t *testing.T) {
	c := &fakeClock{now: pushed}
	l := &Limiter{Now: c.Now, Sleep: c.Sleep}
	for range 3 {
		if err := l.Do(context.Background(), func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if want := []time.Duration{DefaultInterval, DefaultInterval}; !slices.Equal(c.slept, want) {
		t.Errorf("slept %v, want %v", c.slept, want)
	}
}

func TestLimiterPassesCallErrorAndHonoursContext(t *testing.T) {
	c := &fakeClock{now: pushed}
	l := &Limiter{Now: c.Now, Sleep: c.Sleep}
	boom := errors.New("boom")
	if err := l.Do(context.Background(), func() error { return boom }); err != boom {
		t.Errorf("Do returned %v, want the call's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := l.Do(ctx, func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled: Do returned %v, ran %v; want context.Canceled without running", err, ran)
	}
}
