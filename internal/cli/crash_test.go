package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// TestServeSurvivesSIGKILLDuringContainment runs the real binary. The
// service is killed with SIGKILL while its AttachUserPolicy call is in
// flight (a proxy in front of moto holds it). Restarted, it finishes the
// incident: the key is contained once and the owner gets one email.
func TestServeSurvivesSIGKILLDuringContainment(t *testing.T) {
	bin := leakguardBin(t)
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey

	// A proxy that signals the first AttachUserPolicy and holds it 1 s
	// before passing it on, so the kill lands while the call is in flight.
	target, _ := url.Parse(srv.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	attach := make(chan struct{}, 1)
	var attaches atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if strings.Contains(string(body), "Action=AttachUserPolicy") {
			if attaches.Add(1) == 1 {
				attach <- struct{}{}
				time.Sleep(time.Second)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	trailURL := mototest.CloudTrailWithoutEvents(t)
	// The real binary cannot trust the test's CA: this mail server is a
	// plaintext loopback relay, which LeakGuard allows only on loopback.
	mail := smtptest.StartPlain(t)
	relay := mail.Addr

	dir := t.TempDir()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
[aws]
endpoint = %q
[serve]
listen = %q
database = "sqlite:%s"
mirrors = %q
allow_local_remotes = true
job_timeout = "3s"
[cloudtrail]
endpoint = %q
[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify.smtp]
addr = %q
from = "leakguard@example.com"
tls = "none"
`, proxy.URL, addr, filepath.Join(dir, "lg.db"), filepath.Join(dir, "mirrors"), trailURL, acct.ID, relay))
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--config", cfg)
		cmd.Env = append(os.Environ(), "LEAKGUARD_WEBHOOK_SECRET=s3cret", "AWS_ACCESS_KEY_ID="+acct.Admin.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+acct.Admin.SecretAccessKey,
			"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
		cmd.Stderr = &prefixWriter{t: t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("serve did not become ready")
		return nil
	}
	cmd := start()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	repo := gittest.New(t)
	repo.Write("app.env", "AWS_ACCESS_KEY_ID="+keyID+"\nAWS_SECRET_ACCESS_KEY="+secret+"\n")
	after := repo.Commit("config")
	bare := filepath.Join(t.TempDir(), "app.git")
	repo.Git("init", "--quiet", "--bare", bare)
	repo.Git("push", "--quiet", bare, "HEAD:refs/heads/main")
	hook := exec.Command(bin, "hook", "post-receive", "--url", "http://"+addr+"/hooks/push", "--repository", "acme/app", "--clone-url", bare)
	hook.Env = append(os.Environ(), "LEAKGUARD_WEBHOOK_SECRET=s3cret", "GIT_DIR="+bare)
	hook.Stdin = strings.NewReader(strings.Repeat("0", 40) + " " + after + " refs/heads/main\n")
	if out, err := hook.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("hook: %v %s", err, out)
	}
	select {
	case <-attach:
	case <-time.After(60 * time.Second):
		t.Fatal("containment never started")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t.Log("killed during AttachUserPolicy")

	cmd = start()
	store := waitIncident(t, filepath.Join(dir, "lg.db"), 90*time.Second)
	inc := store
	if inc.State != incident.Contained {
		t.Errorf("state %s", inc.State)
	}
	att, _ := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("svc")})
	if len(att.AttachedPolicies) != 1 {
		t.Errorf("attached after restart: %+v", att.AttachedPolicies)
	}
	if n := len(mail.Wait(1, 20*time.Second)); n != 1 {
		t.Fatalf("%d emails", n)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d emails for one incident", n)
	}
}

// waitIncident polls the database until its one incident is notified.
func waitIncident(t *testing.T, db string, timeout time.Duration) incident.Incident {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		s, err := incident.OpenStore(ctx, "sqlite:"+db)
		if err == nil {
			list, lerr := s.List(ctx, incident.Filter{})
			s.Close()
			if lerr == nil && len(list) == 1 {
				if _, ok := list[0].At(incident.Notified); ok {
					return list[0]
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notified incident within %v", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type prefixWriter struct{ t *testing.T }

func (p *prefixWriter) Write(b []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if line := sc.Text(); !strings.Contains(line, `"level":"INFO"`) {
			p.t.Log("serve: " + line)
		}
	}
	return len(b), nil
}
