package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

// TestActivityInRegionsArticle replays the article's incident: the
// attacker's calls are split between us-east-1 (IAM, STS, S3, SES and a
// DescribeRegions) and eu-west-1, mixed with another key's calls, calls
// outside the window and a duplicate delivery.
func TestActivityInRegionsArticle(t *testing.T) {
	t.Parallel()
	a := attack()
	since, until := pushed, pushed.Add(time.Hour)
	east := newFakeCloudTrail(t, "us-east-1", fakes(
		a[0], a[1], a[2], a[3], a[4], a[5], a[8],
		rec{ID: "other-1", Key: otherKey, Source: "s3", Name: "ListBuckets", Region: "us-east-1", IP: "10.0.0.1", UA: "aws-cli/2", At: pushed.Add(50 * time.Second)},
		rec{ID: "before", Key: leakedKey, Source: "s3", Name: "PutObject", Region: "us-east-1", IP: "10.0.0.2", UA: "ci", At: since.Add(-time.Second)},
		rec{ID: "after", Key: leakedKey, Source: "iam", Name: "ListRoles", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: until.Add(time.Second)},
	)...)
	west := newFakeCloudTrail(t, "eu-west-1", fakes(a[6], a[7], a[7])...)
	now := func() time.Time { return pushed.Add(2 * time.Hour) }
	le, lw := east.lookup(), west.lookup()
	le.Now, lw.Now = now, now

	events, w, err := ActivityInRegions(context.Background(), []*Lookup{le, lw}, leakedKey, since, until)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{eventID(1), eventID(2), eventID(3), eventID(4), eventID(5), eventID(6), eventID(7), eventID(8), eventID(9)}
	if got := ids(events); !slices.Equal(got, want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
	if w != (Window{Since: since, Until: until}) {
		t.Errorf("window %+v, want %s..%s without a note", w, since, until)
	}
	wantCreate := Event{
		Time: pushed.Add(52 * time.Second), Service: "iam", Name: "CreateUser", Region: "us-east-1",
		SourceIP: attackerIP, UserAgent: attackerUA, ErrorCode: "AccessDenied",
		ErrorMsg: "User: arn:aws:iam::111122223333:user/ci-deploy is not authorized to perform: iam:CreateUser",
		ReadOnly: false, AccessKeyID: leakedKey, Principal: "arn:aws:iam::111122223333:user/ci-deploy",
		AccountID: account, EventID: eventID(4), RequestID: "req-" + eventID(4),
	}
	if !reflect.DeepEqual(events[3], wantCreate) {
		t.Errorf("CreateUser event\n got %+v\nwant %+v", events[3], wantCreate)
	}
	if !events[1].ReadOnly || events[6].ReadOnly {
		t.Errorf("readOnly as a string: GetCallerIdentity %v (want true), RunInstances %v (want false)", events[1].ReadOnly, events[6].ReadOnly)
	}
	if !events[0].Self() || events[1].Self() {
		t.Errorf("Self: LeakGuard's check %v (want true), attacker's GetCallerIdentity %v (want false)", events[0].Self(), events[1].Self())
	}

	got := Summarize(events)
	wantSum := Summary{
		Calls: 8, Allowed: 4, Denied: 3, Failed: 1,
		First:      pushed.Add(47 * time.Second),
		Last:       pushed.Add(125 * time.Second),
		SourceIPs:  []string{attackerIP, attacker2IP},
		UserAgents: []string{attackerUA, attacker2UA},
		Succeeded:  []string{"sts:GetCallerIdentity", "iam:ListUsers", "ec2:DescribeRegions", "ec2:DescribeInstances"},
	}
	if !reflect.DeepEqual(got, wantSum) {
		t.Errorf("summary\n got %+v\nwant %+v", got, wantSum)
	}
	for _, f := range []*fakeCloudTrail{east, west} {
		reqs, rate, _, _ := f.stats()
		if len(reqs) != 1 || rate != 0 {
			t.Errorf("%s: %d requests, %d throttled, want 1 and 0", f.region, len(reqs), rate)
		}
		r := reqs[0]
		if r.StartTime == nil || *r.StartTime != float64(since.Unix()) || r.EndTime == nil || *r.EndTime != float64(until.Unix()) {
			t.Errorf("%s: window sent %v..%v, want %d..%d", f.region, r.StartTime, r.EndTime, since.Unix(), until.Unix())
		}
		if r.LookupAttributes[0].AttributeValue != leakedKey || r.MaxResults == nil || *r.MaxResults != 50 {
			t.Errorf("%s: request %+v, want AccessKeyId=%s and MaxResults 50", f.region, r, leakedKey)
		}
	}
}

// TestActivityPaginatesWithinRateLimit reads 7 pages from a fake that
// refuses a third request within any second, and must not be refused.
func TestActivityPaginatesWithinRateLimit(t *testing.T) {
	t.Parallel()
	const n = 320
	var rs []rec
	for i := range n {
		rs = append(rs, rec{ID: eventID(i), Key: leakedKey, Source: "ec2", Name: "DescribeInstances", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: pushed.Add(time.Duration(i) * 10 * time.Second)})
	}
	// CloudTrail may deliver an event twice; three are, on other pages.
	rs = append(rs, rs[3], rs[150], rs[299])
	f := newFakeCloudTrail(t, "us-east-1", fakes(rs...)...)
	l := f.lookup()
	l.Now = func() time.Time { return pushed.Add(24 * time.Hour) }
	since, until := pushed, pushed.Add(n*10*time.Second)

	events, _, err := l.Activity(context.Background(), leakedKey, since, until)
	if err != nil {
		t.Fatal(err)
	}
	reqs, rate, _, tokens := f.stats()
	if rate != 0 {
		t.Errorf("%d of %d requests throttled for exceeding 2 per second", rate, len(reqs))
	}
	if len(reqs) != 7 {
		t.Errorf("%d requests, want 7 pages of at most 50 for %d results", len(reqs), n+3)
	}
	for i, r := range reqs {
		var sent string
		if r.NextToken != nil {
			sent = *r.NextToken
		}
		want := ""
		if i > 0 && i-1 < len(tokens) {
			want = tokens[i-1]
		}
		if sent != want {
			t.Errorf("request %d: NextToken %q, want %q", i+1, sent, want)
		}
	}
	if len(events) != n {
		t.Fatalf("%d events, want %d distinct", len(events), n)
	}
	for i, e := range events {
		if e.EventID != eventID(i) {
			t.Fatalf("event %d is %s, want %s: not in time order", i, e.EventID, eventID(i))
		}
	}
}

// TestActivityRecoversFromThrottling has the fake throttle a request and
// fail the retry with HTTP 500: Lookup backs off exponentially and
// finishes, without the SDK retrying behind its back.
func TestActivityRecoversFromThrottling(t *testing.T) {
	t.Parallel()
	var rs []rec
	for i := range 120 {
		rs = append(rs, rec{ID: eventID(i), Key: leakedKey, Source: "iam", Name: "ListUsers", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: pushed.Add(time.Duration(i) * time.Second)})
	}
	f := newFakeCloudTrail(t, "us-east-1", fakes(rs...)...)
	f.throttleAt = map[int]bool{2: true}
	f.failAt = map[int]bool{3: true}
	l := f.lookup()
	l.Now = func() time.Time { return pushed.Add(time.Hour) }
	l.Backoff = 100 * time.Millisecond
	var slept []time.Duration
	l.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}

	events, _, err := l.Activity(context.Background(), leakedKey, pushed, pushed.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 120 {
		t.Errorf("%d events, want 120", len(events))
	}
	reqs, rate, injected, _ := f.stats()
	if len(reqs) != 5 || injected != 2 || rate != 0 {
		t.Errorf("%d requests, %d injected failures, %d rate throttles; want 5, 2, 0", len(reqs), injected, rate)
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(slept, want) {
		t.Errorf("backoffs %v, want %v", slept, want)
	}
}

func TestActivityGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	f := newFakeCloudTrail(t, "us-east-1", attack()[1].fake())
	f.throttleAt = map[int]bool{1: true, 2: true, 3: true, 4: true}
	l := f.lookup()
	l.Now = func() time.Time { return pushed.Add(time.Hour) }
	l.MaxAttempts = 3
	l.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }

	_, _, err := l.Activity(context.Background(), leakedKey, pushed, pushed.Add(time.Hour))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Fatalf("error %v, want a ThrottlingException", err)
	}
	for _, s := range []string{leakedKey, "us-east-1", "after 3 attempts"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if reqs, _, _, _ := f.stats(); len(reqs) != 3 {
		t.Errorf("%d requests, want 3", len(reqs))
	}
}

func TestActivityClampsToRetention(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	limit := now.Add(-90 * 24 * time.Hour)
	old := rec{ID: "old", Key: leakedKey, Source: "iam", Name: "ListUsers", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: now.Add(-100 * 24 * time.Hour)}
	recent := rec{ID: "recent", Key: leakedKey, Source: "iam", Name: "ListUsers", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: now.Add(-30 * 24 * time.Hour)}

	t.Run("start moved forward", func(t *testing.T) {
		t.Parallel()
		f := newFakeCloudTrail(t, "us-east-1", fakes(old, recent)...)
		l := f.lookup()
		l.Now = func() time.Time { return now }
		events, w, err := l.Activity(context.Background(), leakedKey, now.Add(-120*24*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(events); !slices.Equal(got, []string{"recent"}) {
			t.Errorf("events %v, want [recent]", got)
		}
		if !w.Since.Equal(limit) || !w.Until.Equal(now) || !strings.Contains(w.Note, "90 days") {
			t.Errorf("window %+v, want from %s with a note on retention", w, limit)
		}
		reqs, _, _, _ := f.stats()
		if len(reqs) != 1 || *reqs[0].StartTime != float64(limit.Unix()) {
			t.Errorf("requests %+v, want one starting at %d", reqs, limit.Unix())
		}
	})
	t.Run("window entirely too old", func(t *testing.T) {
		t.Parallel()
		f := newFakeCloudTrail(t, "us-east-1", fakes(old, recent)...)
		l := f.lookup()
		l.Now = func() time.Time { return now }
		events, w, err := l.Activity(context.Background(), leakedKey, now.Add(-200*24*time.Hour), now.Add(-95*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 0 || !strings.Contains(w.Note, "nothing searched") {
			t.Errorf("events %v, window %+v; want none and a note that nothing was searched", ids(events), w)
		}
		if reqs, _, _, _ := f.stats(); len(reqs) != 0 {
			t.Errorf("%d requests for a window CloudTrail no longer holds", len(reqs))
		}
	})
	t.Run("inside retention", func(t *testing.T) {
		t.Parallel()
		f := newFakeCloudTrail(t, "us-east-1", fakes(old, recent)...)
		l := f.lookup()
		l.Now = func() time.Time { return now }
		since := limit.Add(time.Second)
		_, w, err := l.Activity(context.Background(), leakedKey, since, now)
		if err != nil {
			t.Fatal(err)
		}
		if w != (Window{Since: since, Until: now}) {
			t.Errorf("window %+v, want %s..%s without a note", w, since, now)
		}
	})
}

func TestActivityMalformedRecord(t *testing.T) {
	t.Parallel()
	good := attack()[1]
	for _, tc := range []struct {
		name, record, want string
	}{
		{"not JSON", `{"eventID": "bad-1", "eventTime": `, "unexpected end of JSON input"},
		{"bad time", strings.Replace(good.json(), pushed.Add(47*time.Second).Format(time.RFC3339), "14/03/2025 09:00:47", 1), "eventTime"},
		{"no event name", strings.Replace(good.json(), `"eventName":"GetCallerIdentity"`, `"eventName":""`, 1), "missing eventName"},
		{"readOnly not a boolean", strings.Replace(good.json(), `"readOnly":"true"`, `"readOnly":"yes"`, 1), "readOnly"},
		{"no record", "", "no CloudTrailEvent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := fakeEvent{ID: "bad-1", Name: "ListUsers", Source: "iam.amazonaws.com", KeyID: leakedKey, Time: pushed.Add(time.Minute), Record: tc.record}
			f := newFakeCloudTrail(t, "us-east-1", good.fake(), bad)
			l := f.lookup()
			l.Now = func() time.Time { return pushed.Add(time.Hour) }
			events, _, err := l.Activity(context.Background(), leakedKey, pushed, pushed.Add(time.Hour))
			if err == nil {
				t.Fatalf("no error; events %v", ids(events))
			}
			for _, s := range []string{"event bad-1", "us-east-1", leakedKey, tc.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestActivityInRegionsPartialFailure: a region that fails is reported,
// and the other regions' events still come back.
func TestActivityInRegionsPartialFailure(t *testing.T) {
	t.Parallel()
	a := attack()
	east := newFakeCloudTrail(t, "us-east-1", fakes(a[1], a[2])...)
	broken := a[7].fake()
	broken.Record = "{"
	west := newFakeCloudTrail(t, "eu-west-1", broken)
	now := func() time.Time { return pushed.Add(time.Hour) }
	le, lw := east.lookup(), west.lookup()
	le.Now, lw.Now = now, now
	events, _, err := ActivityInRegions(context.Background(), []*Lookup{lw, le}, leakedKey, pushed, pushed.Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "eu-west-1") || strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("error %v, want one naming eu-west-1 only", err)
	}
	if got, want := ids(events), []string{eventID(2), eventID(3)}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestActivityCancelled cancels the context while the first page is being
// served: Lookup stops without sending another request.
func TestActivityCancelled(t *testing.T) {
	t.Parallel()
	var rs []rec
	for i := range 120 {
		rs = append(rs, rec{ID: eventID(i), Key: leakedKey, Source: "iam", Name: "ListUsers", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: pushed.Add(time.Duration(i) * time.Second)})
	}
	f := newFakeCloudTrail(t, "us-east-1", fakes(rs...)...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onRequest = func(int) { cancel() }
	l := f.lookup()
	l.Now = func() time.Time { return pushed.Add(time.Hour) }
	events, _, err := l.Activity(ctx, leakedKey, pushed, pushed.Add(time.Hour))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v (%d events), want context.Canceled", err, len(events))
	}
	if reqs, _, _, _ := f.stats(); len(reqs) != 1 {
		t.Errorf("%d requests after cancellation, want 1", len(reqs))
	}
}

func TestActivityRejectsBadArguments(t *testing.T) {
	t.Parallel()
	f := newFakeCloudTrail(t, "us-east-1")
	l := f.lookup()
	for _, tc := range []struct {
		key          string
		since, until time.Time
	}{
		{"", pushed, pushed.Add(time.Hour)},
		{leakedKey, pushed, pushed},
		{leakedKey, pushed.Add(time.Hour), pushed},
	} {
		if _, _, err := l.Activity(context.Background(), tc.key, tc.since, tc.until); err == nil {
			t.Errorf("Activity(%q, %s, %s): no error", tc.key, tc.since, tc.until)
		}
	}
	if reqs, _, _, _ := f.stats(); len(reqs) != 0 {
		t.Errorf("%d requests for invalid arguments", len(reqs))
	}
}

// TestRetryableClassifiesErrors checks the retry decision on errors the
// SDK and the network produce.
func TestRetryableClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{fmt.Errorf("wrapped: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}, true},
		{&smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		{&smithy.GenericAPIError{Code: "InvalidNextTokenException"}, false},
		{&smithy.CanceledError{Err: context.Canceled}, false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
