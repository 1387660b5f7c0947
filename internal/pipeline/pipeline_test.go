package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/respond"
	"github.com/leakguard/leakguard/internal/rules"
	"github.com/leakguard/leakguard/internal/smtptest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

func engine(t *testing.T) *detect.Engine {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(rs, detect.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestPushToContainedKey: a commit carrying a live moto key is pushed to a
// bare repository; the scan job finds it, the incident is recorded, the
// respond job quarantines the key (proved here with the key itself) and
// emails the owner, exactly once even though the same push is enqueued
// twice.
func TestPushToContainedKey(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())
	admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci")})
	admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ci"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey

	// The pushed repository.
	dev := gittest.New(t)
	dev.Write("README.md", "# app\n")
	dev.Commit("init")
	dev.Write("deploy/prod.env", "AWS_ACCESS_KEY_ID="+keyID+"\nAWS_SECRET_ACCESS_KEY="+secret+"\n")
	after := dev.Commit("deploy config")
	remote := filepath.Join(t.TempDir(), "app.git")
	dev.Git("init", "--quiet", "--bare", remote)
	dev.Git("push", "--quiet", remote, "HEAD:refs/heads/main")

	mail := smtptest.Start(t)
	trailURL := mototest.CloudTrailWithoutEvents(t)
	cfg, err := respond.Parse(strings.NewReader(fmt.Sprintf(`
[cloudtrail]
endpoint = %q
[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify]
attempts = 3
[notify.smtp]
addr = %q
from = "leakguard@example.com"
username = "leakguard"
password_env = "PW"
`, trailURL, acct.ID, mail.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	dbDir := t.TempDir()
	store, err := incident.OpenStore(ctx, "sqlite:"+filepath.Join(dbDir, "lg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := acct.AdminConfig()
	pb, err := cfg.Playbook(ctx, respond.Deps{
		Getenv: func(k string) string { return map[string]string{"PW": mail.Password}[k] },
		Audit:  store.AuditLog(), History: func(id string) ([]audit.Entry, error) { return store.Audit(ctx, id) },
		Actor: "leakguard serve", SMTPTLS: mail.ClientTLS, AWS: &base,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, Deps{Store: store, Engine: engine(t), Playbook: func(string) (*respond.Playbook, error) { return pb, nil }, MirrorDir: t.TempDir(), AllowLocalRemotes: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	pushed := time.Now().UTC()
	args := ScanArgs{CloneURL: remote, Repository: "acme/app", Ref: "refs/heads/main", Before: zeroSHA, After: after, PushedAt: pushed, ReceivedAt: pushed, Source: "push"}
	for range 2 {
		if err := p.EnqueueScan(ctx, args); err != nil {
			t.Fatal(err)
		}
	}
	var inc incident.Incident
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := store.List(ctx, incident.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 {
			if _, ok := list[0].At(incident.Notified); ok {
				inc = list[0]
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notified incident within 60s: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if inc.KeyID != keyID || inc.State != incident.Contained || inc.Account != acct.ID || inc.Principal != "user/ci" {
		t.Errorf("incident %+v", inc)
	}
	if len(inc.Locations) == 0 || inc.Locations[0].Path != "deploy/prod.env" || inc.Locations[0].Commit != after {
		t.Errorf("locations %+v", inc.Locations)
	}
	for _, kind := range []string{incident.Pushed, incident.Received, incident.Detected, incident.ContainedEvent, incident.Verified, incident.Notified} {
		if _, ok := inc.At(kind); !ok {
			t.Errorf("timeline lacks %s: %+v", kind, inc.Events)
		}
	}
	d, _ := inc.Since(incident.ContainedEvent)
	t.Logf("push to contained: %.3f s", d)
	// Proved with the leaked key itself.
	_, err = iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret})).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("attacker")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("leaked key after containment: %v", err)
	}
	if n := len(mail.Wait(1, 10*time.Second)); n != 1 {
		t.Fatalf("%d emails", n)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d emails for one incident", n)
	}
	// No secret at rest: no database file (WAL included) holds it.
	files, _ := filepath.Glob(filepath.Join(dbDir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), secret) {
			t.Errorf("%s holds the plaintext secret", filepath.Base(f))
		}
	}
}
