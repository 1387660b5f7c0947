package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/pushhook"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// gitServer serves bare repositories under root over smart HTTP with
// git-http-backend, as a real git host does.
func gitServer(t *testing.T, root string) string {
	backend := "/usr/lib/git-core/git-http-backend"
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=alice"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// testService is `leakguard serve` started in-process for a test, on a
// temporary database and mirror directory, with local remotes allowed and
// CloudTrail answered by mototest (moto lacks LookupEvents).
type testService struct {
	*serveDeps
	url     string // where it serves
	cfgPath string
}

// startTestService starts app's service; serve holds more [serve]
// settings, rest the sections after [cloudtrail]. With l, it serves there;
// otherwise on a new loopback port. Everything stops at the test's end.
func startTestService(tb testing.TB, app *App, l net.Listener, serve, rest string, log *slog.Logger) *testService {
	tb.Helper()
	dir := tb.TempDir()
	cfgPath := writeConfig(tb, dir, fmt.Sprintf("[serve]\ndatabase = \"sqlite:%s\"\nmirrors = %q\nallow_local_remotes = true\n%s\n[cloudtrail]\nendpoint = %q\n%s",
		filepath.Join(dir, "lg.db"), filepath.Join(dir, "mirrors"), serve, mototest.CloudTrailWithoutEvents(tb), rest))
	cfg, err := app.loadResponseConfig(cfgPath)
	if err != nil {
		tb.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	svc, err := app.startService(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.pipeline.Stop(context.Background()); svc.store.Close() })
	if l == nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	}
	hs := &http.Server{Handler: svc.handler}
	go hs.Serve(l)
	tb.Cleanup(func() { hs.Close() })
	return &testService{serveDeps: svc, url: "http://" + l.Addr().String(), cfgPath: cfgPath}
}

// TestServeEndToEnd: a developer pushes a commit carrying a live moto key
// to a git server over HTTP; the server's post-receive hook sends a signed
// GitHub-format push webhook to `leakguard serve`, which fetches and scans
// the push, quarantines the key (proved here with the key itself) and
// emails the owner. The dashboard requires a login, forged webhooks are
// refused, and the metrics count the push.
func TestServeEndToEnd(t *testing.T) {
	bin := leakguardBin(t)
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("deploy")})
	admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("deploy"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("deploy")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey

	mail := smtptest.Start(t)
	env := map[string]string{"HOOK_SECRET": "hook-secret-for-tests", "DASH_USERS": "alice:correct-horse", "SMTP_PW": mail.Password}
	base := acct.AdminConfig()
	var logs bytes.Buffer
	app := &App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, SMTPTLS: mail.ClientTLS, AWSConfig: &base}
	svc := startTestService(t, app, nil, `webhook_secret_env = "HOOK_SECRET"
dashboard_users_env = "DASH_USERS"`, fmt.Sprintf(`[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify.smtp]
addr = %q
from = "leakguard@example.com"
username = "leakguard"
password_env = "SMTP_PW"
`, acct.ID, mail.Addr), slog.New(slog.NewJSONHandler(&logs, nil)))
	lg, cfgPath := svc, svc.cfgPath

	// The git host: a bare repository whose post-receive hook reports pushes.
	root := t.TempDir()
	bare := filepath.Join(root, "app.git")
	if out, err := exec.Command("git", "init", "--quiet", "--bare", bare).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	exec.Command("git", "-C", bare, "config", "http.receivepack", "true").Run()
	gitURL := gitServer(t, root)
	hook := fmt.Sprintf("#!/bin/sh\nLEAKGUARD_WEBHOOK_SECRET=%s exec %s hook post-receive --url %s/hooks/push --repository acme/app --clone-url %s\n",
		env["HOOK_SECRET"], bin, lg.url, bare)
	if err := os.WriteFile(filepath.Join(bare, "hooks", "post-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}

	dev := gittest.New(t)
	dev.Write("README.md", "# app\n")
	dev.Commit("init")
	dev.Write("config/prod.env", "AWS_ACCESS_KEY_ID="+keyID+"\nAWS_SECRET_ACCESS_KEY="+secret+"\n")
	dev.Commit("add prod config")
	pushed := time.Now()
	dev.Git("push", "--quiet", gitURL+"/app.git", "HEAD:refs/heads/main")

	var inc incident.Incident
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := svc.store.List(ctx, incident.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].State == incident.Contained {
			if _, ok := list[0].At(incident.Notified); ok {
				inc = list[0]
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no contained, notified incident 60 s after the push: %+v\nlogs:\n%s", list, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	contained, _ := inc.Since(incident.ContainedEvent)
	notified, _ := inc.Since(incident.Notified)
	t.Logf("push to contained %.3f s, to notified %.3f s (wall clock from git push: %.3f s)", contained, notified, time.Since(pushed).Seconds())
	if inc.KeyID != keyID || inc.Principal != "user/deploy" || len(inc.Locations) == 0 || inc.Locations[0].Repository != "acme/app" {
		t.Errorf("incident %+v", inc)
	}
	// Proved with the leaked key itself.
	_, err = iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret})).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("attacker")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("leaked key after containment: %v", err)
	}
	msgs := mail.Wait(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	subject, text, _ := parseMail(t, msgs[0].Data)
	if !strings.Contains(subject+text, keyID) || !strings.Contains(text, "config/prod.env") {
		t.Errorf("email lacks the key or where it was found:\n%s\n%s", subject, text)
	}

	// Intake authenticates: unsigned, forged, replayed and oversized
	// deliveries are refused with the right status.
	body := []byte(`{"ref":"refs/heads/main","before":"` + strings.Repeat("0", 40) + `","after":"` + strings.Repeat("a", 40) + `","repository":{"full_name":"x/y","clone_url":"/nonexistent"}}`)
	post := func(sig, delivery string, b []byte) int {
		req, _ := http.NewRequest(http.MethodPost, lg.url+"/hooks/push", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := pushhook.Sign([]byte(env["HOOK_SECRET"]), body)
	for _, c := range []struct {
		name    string
		sig, id string
		body    []byte
		want    int
	}{
		{"unsigned", "", "d1", body, http.StatusUnauthorized},
		{"forged", pushhook.Sign([]byte("wrong secret"), body), "d2", body, http.StatusForbidden},
		{"valid", good, "d3", body, http.StatusAccepted},
		{"replayed", good, "d3", body, http.StatusConflict},
		{"oversized", good, "d4", bytes.Repeat([]byte("x"), 26<<20), http.StatusRequestEntityTooLarge},
	} {
		if got := post(c.sig, c.id, c.body); got != c.want {
			t.Errorf("%s webhook: status %d, want %d", c.name, got, c.want)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"request rejected"`) {
		t.Error("rejections are not logged")
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the logs contain the secret")
	}

	// The dashboard requires a login.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(lg.url + "/incidents/" + inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Errorf("dashboard without login: %s", resp.Status)
	}
	// Metrics and health.
	resp, err = http.Get(lg.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`leakguard_pushes_received_total{provider="github"}`, "leakguard_time_to_contain_seconds_count 1", "leakguard_queue_depth", `leakguard_requests_rejected_total{endpoint="push"`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(lg.url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}

	// Release from the service's incident: refused while the key works,
	// done once it is deleted.
	var errb bytes.Buffer
	cli := &App{Stdout: io.Discard, Stderr: &errb, Getenv: app.Getenv, AWSConfig: &base}
	if code := cli.Run(ctx, []string{"incidents", "release", inc.ID, "--config", cfgPath, "--actor", "alice"}); code != ExitFindings || !strings.Contains(errb.String(), "still active") {
		t.Fatalf("release of an active key: exit %d %s", code, errb.String())
	}
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("deploy"), AccessKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if code := cli.Run(ctx, []string{"incidents", "release", inc.ID, "--config", cfgPath, "--actor", "alice"}); code != 0 {
		t.Fatalf("release: exit %d %s", code, errb.String())
	}
	if got, _ := svc.store.Get(ctx, inc.ID); got.State != incident.Released {
		t.Errorf("state after release: %s", got.State)
	}
	att, _ := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("deploy")})
	if len(att.AttachedPolicies) != 1 || *att.AttachedPolicies[0].PolicyName != "AdministratorAccess" {
		t.Errorf("policies after release: %+v", att.AttachedPolicies)
	}
}

// TestServeWatchedRemote: a remote without webhooks is polled; a leaky
// commit pushed to it becomes a contained incident.
func TestServeWatchedRemote(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("poll")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("poll")})
	if err != nil {
		t.Fatal(err)
	}
	dev := gittest.New(t)
	dev.Write("README.md", "# app\n")
	dev.Commit("init")
	bare := filepath.Join(t.TempDir(), "watched.git")
	dev.Git("init", "--quiet", "--bare", bare)
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	base := acct.AdminConfig()
	app := &App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return map[string]string{"LEAKGUARD_WEBHOOK_SECRET": "x"}[k] }, AWSConfig: &base}
	svc := startTestService(t, app, nil, fmt.Sprintf(`watch_interval = "100ms"
[[serve.watch]]
url = %q
name = "acme/watched"`, bare), fmt.Sprintf("[[aws.accounts]]\nid = %q\n", acct.ID), nil)
	time.Sleep(300 * time.Millisecond) // the first poll records main as it is
	dev.Write("ci.env", "AWS_ACCESS_KEY_ID="+*k.AccessKey.AccessKeyId+"\nAWS_SECRET_ACCESS_KEY="+*k.AccessKey.SecretAccessKey+"\n")
	dev.Commit("ci creds")
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _ := svc.store.List(ctx, incident.Filter{})
		if len(list) == 1 && list[0].State == incident.Contained {
			if list[0].Source != "watch" || list[0].Locations[0].Repository != "acme/watched" {
				t.Errorf("incident %+v", list[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no contained incident from the watched remote: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScanReportTo: `leakguard scan --report-to` posts findings (never a
// secret) with the report token; the service contains the AWS key. A
// wrong token is refused and the scan says its findings were not reported.
func TestScanReportTo(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("laptop")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("laptop")})
	if err != nil {
		t.Fatal(err)
	}
	secret := *k.AccessKey.SecretAccessKey
	base := acct.AdminConfig()
	env := map[string]string{"LEAKGUARD_WEBHOOK_SECRET": "x", "REPORT_TOKEN": "report-token-0123456789", "METRICS_TOKEN": "metrics-token-0123456789"}
	app := &App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, AWSConfig: &base}
	svc := startTestService(t, app, nil, `report_token_env = "REPORT_TOKEN"
metrics_token_env = "METRICS_TOKEN"`, fmt.Sprintf("[[aws.accounts]]\nid = %q\n", acct.ID), nil)
	lg, dir := svc, filepath.Dir(svc.cfgPath)

	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "creds"), []byte("aws_access_key_id = "+*k.AccessKey.AccessKeyId+"\naws_secret_access_key = "+secret+"\n"), 0o600)
	scan := func(token string) (int, string) {
		var out, errb bytes.Buffer
		a := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			return map[string]string{"LEAKGUARD_REPORT_TOKEN": token}[k]
		}}
		code := a.Run(ctx, []string{"scan", "dir", work, "--report-to", lg.url + "/api/findings", "--report-repository", "alice/laptop", "--no-progress"})
		return code, errb.String()
	}
	if code, errOut := scan("wrong-token-0123456789"); code != ExitError || !strings.Contains(errOut, "not reported") {
		t.Fatalf("wrong token: exit %d %s", code, errOut)
	}
	if code, errOut := scan(env["REPORT_TOKEN"]); code != ExitFindings {
		t.Fatalf("scan --report-to: exit %d %s", code, errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _ := svc.store.List(ctx, incident.Filter{})
		if len(list) == 1 && list[0].State == incident.Contained {
			if list[0].Source != "report" || list[0].Locations[0].Repository != "alice/laptop" {
				t.Errorf("incident %+v", list[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no contained incident from the report: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// With metrics_token_env, /metrics wants the token.
	for token, want := range map[string]int{"": http.StatusUnauthorized, "wrong-token-0123456789": http.StatusUnauthorized, env["METRICS_TOKEN"]: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, lg.url+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/metrics with token %q: %s, want %d", token, resp.Status, want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lg.db*"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s holds the secret", f)
		}
	}
}

// TestPartnerProtocolBetweenInstances: two LeakGuard services talk
// GitHub's secret-scanning partner protocol. A (a scanning host, no rights
// in the key's account) finds an AWS key in a push and sends a signed alert
// to B (the provider for that account), which verifies it against A's keys
// document and contains the key.
func TestPartnerProtocolBetweenInstances(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	other := srv.NewAccount(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("shared")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
	la, _ := net.Listen("tcp", "127.0.0.1:0")
	lb, _ := net.Listen("tcp", "127.0.0.1:0")
	urlA, urlB := "http://"+la.Addr().String(), "http://"+lb.Addr().String()
	start := func(name string, l net.Listener, base aws.Config, serve, rest string) *testService {
		app := &App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return map[string]string{"LEAKGUARD_WEBHOOK_SECRET": "hook-" + name}[k] }, AWSConfig: &base}
		return startTestService(t, app, l, serve, rest, nil)
	}
	keyFile := filepath.Join(t.TempDir(), "a-partner.pem")
	start("a", la, other.AdminConfig(), fmt.Sprintf("partner_key_file = %q\n[[serve.partners]]\nendpoint = %q\nproviders = [\"aws\"]", keyFile, urlB+"/partner/alerts"), "")
	b := start("b", lb, acct.AdminConfig(), fmt.Sprintf("partner_keys_url = %q", urlA+"/partner/keys"), fmt.Sprintf("[[aws.accounts]]\nid = %q\n", acct.ID))

	dev := gittest.New(t)
	dev.Write("keys.txt", "aws_access_key_id="+keyID+"\naws_secret_access_key="+secret+"\n")
	sha := dev.Commit("oops")
	bare := filepath.Join(t.TempDir(), "public.git")
	dev.Git("init", "--quiet", "--bare", bare)
	dev.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	body, _ := json.Marshal(pushPayload(strings.Repeat("0", 40), sha, "refs/heads/main", "public/repo", bare, "", "dev", time.Now()))
	if err := deliver(ctx, http.DefaultClient, urlA+"/hooks/push", []byte("hook-a"), body); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _ := b.store.List(ctx, incident.Filter{})
		if len(list) == 1 && list[0].State == incident.Contained {
			if list[0].Source != "partner" || list[0].KeyID != keyID {
				t.Errorf("B's incident %+v", list[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B contained nothing: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret})).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("leaked key after B's containment: %v", err)
	}
}
