package containment

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/mototest"
)

// countingTransport timestamps every request the responder sends.
type countingTransport struct {
	mu    sync.Mutex
	times []time.Time
	next  http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// maxPerSecond is the most requests seen in any one-second window.
func (c *countingTransport) maxPerSecond() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := slices.Clone(c.times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func benchKeys(b *testing.B, admin *iam.Client, n int) []Credentials {
	ctx := context.Background()
	keys := make([]Credentials, n)
	for i := range keys {
		name := fmt.Sprintf("bench-%d", i)
		if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
			b.Fatal(err)
		}
		out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = Credentials{KeyID: *out.AccessKey.AccessKeyId, Secret: *out.AccessKey.SecretAccessKey}
	}
	return keys
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p+0.5)]
}

// BenchmarkContain contains one key per iteration against a warm moto,
// with the leaked secret known: identify, verify, quarantine, re-read and
// prove with the key. Run with -benchtime 50x for the 50 keys. The
// baseline printed beside it is one bare iam:AttachUserPolicy round trip
// to the same server, measured in the same run.
func BenchmarkContain(b *testing.B) {
	srv := mototest.Start(b)
	acct := srv.NewAccount(b)
	admin := iam.NewFromConfig(acct.AdminConfig())
	keys := benchKeys(b, admin, b.N)
	ctx := context.Background()
	// Baseline: the floor any containment pays, one attach call.
	var base []time.Duration
	for i := range 20 {
		start := time.Now()
		if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("admin"), PolicyArn: aws.String(fmt.Sprintf("arn:aws:iam::aws:policy/%s", []string{"ReadOnlyAccess", "IAMReadOnlyAccess"}[i%2]))}); err != nil {
			b.Fatal(err)
		}
		base = append(base, time.Since(start))
	}
	r := &Responder{Base: acct.AdminConfig(), Accounts: []Account{{ID: acct.ID}}, Audit: &audit.Memory{}, Actor: "bench"}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		res, err := r.Contain(ctx, Request{Credentials: keys[i]})
		if err != nil || !res.Proved {
			b.Fatalf("contain %d: proved=%v %v", i, res.Proved, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	p50, p95 := percentile(lat, 0.5), percentile(lat, 0.95)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p95.Milliseconds()), "p95-ms")
	b.ReportMetric(float64(percentile(base, 0.5).Microseconds())/1000, "attach-call-p50-ms")
	b.Logf("contain over %d keys: p50 %v, p95 %v; one bare AttachUserPolicy p50 %v (%.1fx); AWS in the article: 67 s (%.0fx slower than LeakGuard's p95)",
		b.N, p50.Round(time.Millisecond), p95.Round(time.Millisecond), percentile(base, 0.5).Round(time.Millisecond),
		float64(p50)/float64(percentile(base, 0.5)), (67*time.Second).Seconds()/p95.Seconds())
}

// BenchmarkContainConcurrent contains 100 keys at once per iteration, with
// the responder's per-account limit (20 requests/s by default) keeping it
// within AWS's API rate limits; it reports the wall time and the highest
// request rate the responder reached in any one-second window.
func BenchmarkContainConcurrent(b *testing.B) {
	const n = 100
	srv := mototest.Start(b)
	for range b.N {
		b.StopTimer()
		acct := srv.NewAccount(b)
		keys := benchKeys(b, iam.NewFromConfig(acct.AdminConfig()), n)
		cfg := acct.AdminConfig()
		ct := &countingTransport{next: http.DefaultTransport}
		cfg.HTTPClient = &http.Client{Transport: ct, Timeout: 5 * time.Minute}
		r := &Responder{Base: cfg, Accounts: []Account{{ID: acct.ID}}, Audit: &audit.Memory{}, Actor: "bench", CheckTimeout: 2 * time.Minute}
		ctx := context.Background()
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		b.StartTimer()
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				res, err := r.Contain(ctx, Request{Credentials: keys[i]})
				if err == nil && !res.Proved {
					err = fmt.Errorf("key %d not proved", i)
				}
				if err != nil {
					errs <- err
				}
				lat[i] = time.Since(t0)
			}()
		}
		wg.Wait()
		wall := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(percentile(lat, 0.5).Milliseconds()), "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Milliseconds()), "p99-ms")
		b.ReportMetric(float64(ct.maxPerSecond()), "max-req/s")
		b.Logf("%d keys contained concurrently in %v (p50 %v, p99 %v per key), %d requests, at most %d in any second (limits: 20/s for the key's account, 20/s for the responder's own identity, here the same account)",
			n, wall.Round(time.Millisecond), percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond), len(ct.times), ct.maxPerSecond())
	}
}
