package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// benchService is `leakguard serve` in-process against moto, a real SMTP
// server and a CloudTrail fake (moto lacks LookupEvents).
type benchService struct {
	svc    *serveDeps
	url    string
	secret []byte
	mail   *smtptest.Server
	acct   mototest.Account
	admin  *iam.Client
}

func startBenchService(b *testing.B, workers int) *benchService {
	srv := mototest.Start(b)
	acct := srv.NewAccount(b)
	mail := smtptest.Start(b)
	env := map[string]string{"HOOK_SECRET": "bench-hook-secret", "SMTP_PW": mail.Password}
	base := acct.AdminConfig()
	app := &App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, SMTPTLS: mail.ClientTLS, AWSConfig: &base}
	svc := startTestService(b, app, nil, fmt.Sprintf("workers = %d\nwebhook_secret_env = \"HOOK_SECRET\"", workers), fmt.Sprintf(`[aws]
requests_per_second = %d
[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify.smtp]
addr = %q
from = "leakguard@example.com"
username = "leakguard"
password_env = "SMTP_PW"
`, envInt("LEAKGUARD_BENCH_RPS", 20), acct.ID, mail.Addr), nil)
	return &benchService{svc: svc.serveDeps, url: svc.url, secret: []byte(env["HOOK_SECRET"]), mail: mail, acct: acct, admin: iam.NewFromConfig(acct.AdminConfig())}
}

// push reports one ref update as the post-receive hook does.
func (s *benchService) push(b *testing.B, bare, branch, sha string, at time.Time) {
	body, _ := json.Marshal(pushPayload(strings.Repeat("0", 40), sha, "refs/heads/"+branch, "acme/bench", bare, "", "bench", at))
	if err := deliver(context.Background(), http.DefaultClient, s.url+"/hooks/push", s.secret, body); err != nil {
		b.Fatal(err)
	}
}

func gitIn(b *testing.B, dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitAll waits until n incidents have every kind of event.
func waitAll(b *testing.B, s *benchService, n int, kinds []string, timeout time.Duration) []incident.Incident {
	deadline := time.Now().Add(timeout)
	for {
		list, err := s.svc.store.List(context.Background(), incident.Filter{Limit: 10000})
		if err != nil {
			b.Fatal(err)
		}
		done := 0
		for _, inc := range list {
			ok := true
			for _, k := range kinds {
				_, has := inc.At(k)
				ok = ok && has
			}
			if ok {
				done++
			}
		}
		if len(list) >= n && done >= n {
			return list
		}
		if time.Now().After(deadline) {
			w, dead, _ := s.svc.pipeline.QueueDepth(context.Background())
			b.Fatalf("%d of %d incidents complete after %v (%d listed; queue %d, dead %d)", done, n, timeout, len(list), w, dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pct(xs []float64, p float64) float64 { return incident.Percentile(xs, p) }

// BenchmarkServePushToContained pushes b.N commits (run with -benchtime
// 100x), each carrying a different live moto access key, to a bare
// repository, one a second (LEAKGUARD_BENCH_RATE), each reported by the
// post-receive webhook;
// it reports push-to-contained and push-to-email percentiles. The push
// time is taken before `git push` starts. AWS's figures in the article: 67 s
// to quarantine, about 116 s to email.
func BenchmarkServePushToContained(b *testing.B) {
	s := startBenchService(b, 4)
	ctx := context.Background()
	dev := b.TempDir()
	bare := filepath.Join(b.TempDir(), "bench.git")
	gitIn(b, dev, "init", "--quiet", "-b", "main")
	gitIn(b, dev, "commit", "--quiet", "--allow-empty", "-m", "base")
	gitIn(b, dev, "init", "--quiet", "--bare", bare)
	gitIn(b, dev, "push", "--quiet", bare, "main")
	branches := make([]string, b.N)
	keys := make([]string, b.N)
	for i := range b.N {
		user := fmt.Sprintf("u%d", i)
		s.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: &user})
		k, err := s.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &user})
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = *k.AccessKey.AccessKeyId
		branches[i] = fmt.Sprintf("feature-%d", i)
		gitIn(b, dev, "checkout", "--quiet", "-b", branches[i], "main")
		writeFile(b, filepath.Join(dev, "deploy.env"), "AWS_ACCESS_KEY_ID="+keys[i]+"\nAWS_SECRET_ACCESS_KEY="+*k.AccessKey.SecretAccessKey+"\n")
		gitIn(b, dev, "add", "deploy.env")
		gitIn(b, dev, "commit", "--quiet", "-m", "deploy config")
	}
	rate := envInt("LEAKGUARD_BENCH_RATE", 1)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		at := time.Now()
		gitIn(b, dev, "push", "--quiet", bare, branches[i])
		s.push(b, bare, branches[i], gitIn(b, dev, "rev-parse", branches[i]), at)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second / time.Duration(rate))))
	}
	list := waitAll(b, s, b.N, []string{incident.ContainedEvent, incident.Notified}, 5*time.Minute)
	b.StopTimer()
	mails := s.mail.Wait(b.N, time.Minute)
	emailAt := map[string]time.Time{}
	for _, m := range mails {
		for _, k := range keys {
			if bytes.Contains(m.Data, []byte(k)) {
				emailAt[k] = m.At
			}
		}
	}
	var contain, email []float64
	for _, inc := range list {
		d, _ := inc.Since(incident.ContainedEvent)
		contain = append(contain, d)
		pushed, _ := inc.At(incident.Pushed)
		if at, ok := emailAt[inc.KeyID]; ok {
			email = append(email, at.Sub(pushed).Seconds())
		}
	}
	if len(email) != b.N || len(mails) != b.N {
		b.Fatalf("%d emails matched of %d incidents (%d received)", len(email), b.N, len(mails))
	}
	b.ReportMetric(pct(contain, 0.5), "contain-p50-s")
	b.ReportMetric(pct(contain, 0.99), "contain-p99-s")
	b.ReportMetric(pct(email, 0.5), "email-p50-s")
	b.ReportMetric(pct(email, 0.99), "email-p99-s")
	b.Logf("%d pushes at %d/s: push to contained p50 %.3f s, p99 %.3f s, max %.3f s; push to email p50 %.3f s, p99 %.3f s (AWS in the article: 67 s and ~116 s)",
		b.N, rate, pct(contain, 0.5), pct(contain, 0.99), slices.Max(contain), pct(email, 0.5), pct(email, 0.99))
}

// BenchmarkServeThroughput reports pushes at a fixed rate for a fixed time
// (20/s for 60 s by default; LEAKGUARD_BENCH_RATE / _SECONDS) to one busy
// repository, each bringing one commit with a new Slack token, and checks
// that every secret is found and the queue does not grow. Commits are
// written into the bare repository beforehand without refs; each "push"
// creates its branch ref (git update-ref) and sends the webhook.
func BenchmarkServeThroughput(b *testing.B) {
	rate, seconds := envInt("LEAKGUARD_BENCH_RATE", 20), envInt("LEAKGUARD_BENCH_SECONDS", 60)
	n := rate * seconds
	s := startBenchService(b, 4)
	bare := filepath.Join(b.TempDir(), "busy.git")
	gitIn(b, b.TempDir(), "init", "--quiet", "--bare", bare)
	// One fast-import stream: a base commit on main, then n commits each
	// adding a file with a distinct token, under refs/pending/ (never
	// fetched: the mirror fetches refs/heads/ and refs/tags/).
	var fi bytes.Buffer
	fmt.Fprintf(&fi, "commit refs/heads/main\nmark :1\ncommitter dev <dev@example.com> 1700000000 +0000\ndata 4\nbase\n\n")
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = slackToken()
		content := "SLACK_BOT_TOKEN=" + tokens[i] + "\n"
		fmt.Fprintf(&fi, "commit refs/pending/%d\ncommitter dev <dev@example.com> %d +0000\ndata 6\nchange\nfrom :1\nM 100644 inline config/slack-%d.env\ndata %d\n%s\n", i, 1700000001+i, i, len(content), content)
	}
	cmd := exec.Command("git", "-C", bare, "fast-import", "--quiet")
	cmd.Stdin = &fi
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v %s", err, out)
	}
	shas := strings.Fields(gitIn(b, bare, "for-each-ref", "--format=%(objectname)", "--sort=refname", "refs/pending/"))
	order := strings.Fields(gitIn(b, bare, "for-each-ref", "--format=%(refname)", "--sort=refname", "refs/pending/"))
	byIndex := make([]string, n)
	for j, ref := range order {
		var i int
		fmt.Sscanf(strings.TrimPrefix(ref, "refs/pending/"), "%d", &i)
		byIndex[i] = shas[j]
	}
	gitIn(b, bare, "for-each-ref", "--format=delete %(refname)", "refs/pending/")
	del := exec.Command("git", "-C", bare, "update-ref", "--stdin")
	del.Stdin = strings.NewReader(strings.Join(func() []string {
		var l []string
		for _, r := range order {
			l = append(l, "delete "+r)
		}
		return l
	}(), "\n") + "\n")
	if out, err := del.CombinedOutput(); err != nil {
		b.Fatalf("delete pending refs: %v %s", err, out)
	}
	s.push(b, bare, "main", gitIn(b, bare, "rev-parse", "main"), time.Now())
	b.ResetTimer()
	start := time.Now()
	var depth []int
	nextSample := start
	for i := range n {
		at := time.Now()
		gitIn(b, bare, "update-ref", fmt.Sprintf("refs/heads/b%d", i), byIndex[i])
		if i%200 == 199 {
			gitIn(b, bare, "pack-refs", "--all") // as a git host's housekeeping does
		}
		s.push(b, bare, fmt.Sprintf("b%d", i), byIndex[i], at)
		if time.Now().After(nextSample) {
			w, _, _ := s.svc.pipeline.QueueDepth(context.Background())
			depth = append(depth, w)
			nextSample = nextSample.Add(time.Second)
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second / time.Duration(rate))))
	}
	sent := time.Since(start)
	list := waitAll(b, s, n, []string{incident.Detected}, 5*time.Minute)
	drained := time.Since(start)
	b.StopTimer()
	var lat []float64
	for _, inc := range list {
		r, _ := inc.At(incident.Received)
		d, _ := inc.At(incident.Detected)
		lat = append(lat, d.Sub(r).Seconds())
	}
	if len(list) != n {
		b.Fatalf("%d incidents for %d secrets", len(list), n)
	}
	b.ReportMetric(float64(n)/sent.Seconds(), "pushes/s")
	b.ReportMetric(pct(lat, 0.5), "scan-p50-s")
	b.ReportMetric(pct(lat, 0.99), "scan-p99-s")
	b.ReportMetric(float64(slices.Max(depth)), "max-queue")
	b.Logf("%d pushes in %.1f s (%.1f/s), all %d secrets found; last one %.2f s after the last push; received to detected p50 %.3f s, p99 %.3f s; queue depth sampled each second: %v",
		n, sent.Seconds(), float64(n)/sent.Seconds(), len(list), (drained - sent).Seconds(), pct(lat, 0.5), pct(lat, 0.99), depth)
}

func slackToken() string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var sb strings.Builder
	sb.WriteString("xoxb-")
	for range 12 {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		sb.WriteByte(byte('0' + d.Int64()))
	}
	sb.WriteString("-")
	for range 13 {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		sb.WriteByte(byte('0' + d.Int64()))
	}
	sb.WriteString("-")
	for range 24 {
		d, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		sb.WriteByte(alnum[d.Int64()])
	}
	return sb.String()
}

func writeFile(b *testing.B, path, body string) {
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
