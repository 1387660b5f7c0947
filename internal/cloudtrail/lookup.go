package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/leakguard/leakguard/internal/clock"
)

// Retention is how far back LookupEvents can see: CloudTrail keeps
// management events for 90 days.
const Retention = 90 * 24 * time.Hour

// LookupAPI is the part of the CloudTrail client that Lookup uses;
// *cloudtrail.Client satisfies it.
type LookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// Lookup reads one region's management events for an access key through
// the LookupEvents API. IAM and global STS calls are logged in us-east-1,
// every other call in the region it was made in, so a full picture needs
// one Lookup per region; see ActivityInRegions.
//
// Only API and Region need setting; the zero values of the other fields
// are the production defaults. A Lookup must not be copied after first use.
type Lookup struct {
	API    LookupAPI
	Region string // the region API is bound to, for messages

	// Limiter spaces this region's requests (the zero value keeps to
	// CloudTrail's 2 per second); every attempt, retries included, passes
	// through it. For that reason Lookup turns the SDK's own retries off
	// per request and retries itself what the SDK would: throttling and
	// transient failures (dropped connections, 5xx answers).
	Limiter Limiter

	Now         func() time.Time                           // nil means time.Now; sets the retention limit
	Sleep       func(context.Context, time.Duration) error // backoff before a retry; nil means a timer that honours ctx
	MaxAttempts int                                        // attempts per page, zero means 5
	Backoff     time.Duration                              // first backoff, doubled before each further retry; zero means 1s
}

// Window is the time range a lookup searched.
type Window struct {
	Since, Until time.Time
	// Note says why Since differs from what the caller asked for, or why
	// nothing was searched; empty when the window was searched as asked.
	Note string
}

// Activity returns the events CloudTrail recorded in l's region for calls
// signed with keyID between since and until, in time order and without
// duplicate event IDs.
//
// CloudTrail keeps 90 days of events: a since further back is moved
// forward to the retention limit, and the returned Window says so. A
// record that cannot be parsed is an error naming its event ID.
func (l *Lookup) Activity(ctx context.Context, keyID string, since, until time.Time) ([]Event, Window, error) {
	fail := func(err error) error { return fmt.Errorf("lookup events for %s in %s: %w", keyID, l.Region, err) }
	if err := checkWindow(keyID, since, until); err != nil {
		return nil, Window{}, fail(err)
	}
	w := l.window(since.UTC(), until.UTC())
	if !w.Since.Before(w.Until) {
		return nil, w, nil
	}
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(keyID)}},
		StartTime:        aws.Time(w.Since),
		EndTime:          aws.Time(w.Until),
		MaxResults:       aws.Int32(50),
	}
	var events []Event
	for page := 1; ; page++ {
		out, err := l.page(ctx, in)
		if err != nil {
			return nil, w, fail(fmt.Errorf("page %d: %w", page, err))
		}
		for _, ce := range out.Events {
			id := aws.ToString(ce.EventId)
			if ce.CloudTrailEvent == nil {
				return nil, w, fail(fmt.Errorf("event %s: no CloudTrailEvent record", id))
			}
			e, err := parseRecord([]byte(*ce.CloudTrailEvent))
			if err != nil {
				return nil, w, fail(fmt.Errorf("event %s: %w", id, err))
			}
			events = append(events, e)
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return sortEvents(events), w, nil
}

// window clamps since to CloudTrail's retention.
func (l *Lookup) window(since, until time.Time) Window {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	w := Window{Since: since, Until: until}
	limit := now().UTC().Add(-Retention)
	if !since.Before(limit) {
		return w
	}
	w.Since = limit
	w.Note = fmt.Sprintf("CloudTrail keeps 90 days of events: searched from %s, not %s", limit.Format(time.RFC3339), since.Format(time.RFC3339))
	if !limit.Before(until) {
		w.Note = fmt.Sprintf("CloudTrail keeps 90 days of events: nothing searched, the window ends %s, before %s", until.Format(time.RFC3339), limit.Format(time.RFC3339))
	}
	return w
}

// page fetches one page, retrying throttling and transient failures with
// exponential backoff.
func (l *Lookup) page(ctx context.Context, in *cloudtrail.LookupEventsInput) (*cloudtrail.LookupEventsOutput, error) {
	attempts := l.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	backoff := l.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	sleep := l.Sleep
	if sleep == nil {
		sleep = clock.Sleep
	}
	for attempt := 1; ; attempt++ {
		var out *cloudtrail.LookupEventsOutput
		err := l.Limiter.Do(ctx, func() error {
			var err error
			out, err = l.API.LookupEvents(ctx, in, func(o *cloudtrail.Options) { o.RetryMaxAttempts = 1 })
			return err
		})
		if err == nil {
			return out, nil
		}
		if !retryable(err) || ctx.Err() != nil || attempt == attempts {
			if attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return nil, err
		}
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

// retryable reports whether another attempt may succeed where err failed:
// the errors the SDK's standard retryer retries, throttling among them.
func retryable(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// ActivityInRegions runs Activity in each region and merges the results
// in time order without duplicate event IDs. Pass us-east-1 among the
// lookups: IAM and global STS calls are only logged there.
//
// Regions are searched one after another. If some fail, the events from
// the others are still returned, with an error naming each failure. The
// Window is the first lookup's.
func ActivityInRegions(ctx context.Context, lookups []*Lookup, keyID string, since, until time.Time) ([]Event, Window, error) {
	var (
		all  []Event
		w    Window
		errs []error
	)
	for i, l := range lookups {
		events, lw, err := l.Activity(ctx, keyID, since, until)
		if i == 0 {
			w = lw
		}
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break // the remaining regions would fail the same way
			}
			continue
		}
		all = append(all, events...)
	}
	return sortEvents(all), w, errors.Join(errs...)
}
