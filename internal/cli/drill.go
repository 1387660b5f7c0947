package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/incident"
)

const drillUsage = `leakguard drill: the article's experiment, run safely on demand.

It creates a canary IAM user whose only permission is sts:GetCallerIdentity,
commits its access key to a scratch repository, pushes it to a repository
watched by an in-process LeakGuard service (your configuration, a temporary
database), and prints the measured timeline (push, detection, quarantine,
email) beside AWS's figures from the article. The canary is deleted
afterwards unless --keep.

Usage:
  leakguard drill [--config FILE] [--keep] [--timeout 60s]

Example, against the moto emulator:
  python3 -m moto.server -p 5000 &   # with MOTO_IAM_LOAD_MANAGED_POLICIES=true
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
    leakguard drill
`

func (a *App) drill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { io.WriteString(a.Stderr, drillUsage) }
	cfgPath := fs.String("config", a.getenv("LEAKGUARD_CONFIG"), "configuration file")
	keep := fs.Bool("keep", false, "keep the canary user and key")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the service")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := a.loadResponseConfig(*cfgPath)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "leakguard-drill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfg.Serve.Database = "sqlite:" + filepath.Join(work, "drill.db")
	cfg.Serve.Mirrors = filepath.Join(work, "mirrors")
	// Only the drill's own scratch repository: no watched remotes, no
	// partners, no intake from outside.
	cfg.Serve.Watch, cfg.Serve.Partners = nil, nil
	cfg.Serve.ReportTokenEnv, cfg.Serve.PartnerKeysURL, cfg.Serve.PartnerKeyFile = "", "", ""
	cfg.Serve.AllowLocalRemotes = true
	hookSecret := randomHex(16)
	drillApp := *a
	drillApp.Getenv = func(k string) string {
		if k == cfg.Serve.WebhookSecretEnv {
			return hookSecret
		}
		return a.getenv(k)
	}
	awsCfg := a.AWSConfig
	if awsCfg == nil {
		c, err := cfg.LoadAWS(ctx)
		if err != nil {
			return err
		}
		awsCfg = &c
	}
	drillApp.AWSConfig = awsCfg
	admin := iam.NewFromConfig(*awsCfg)

	// The canary: a user that can do nothing but say who it is.
	user := "leakguard-drill-" + randomHex(4)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Tags: nil}); err != nil {
		return fmt.Errorf("create canary user: %w", err)
	}
	fmt.Fprintf(a.Stdout, "Canary user %s created.\n", user)
	var keyID string
	if !*keep {
		defer func() { a.removeCanary(admin, user, keyID) }()
	}
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("harmless"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`)}); err != nil {
		return fmt.Errorf("canary policy: %w", err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return fmt.Errorf("canary key: %w", err)
	}
	keyID = aws.ToString(key.AccessKey.AccessKeyId)

	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc, err := drillApp.startService(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.store.Close()
	defer svc.pipeline.Stop(context.WithoutCancel(ctx))
	lg := httptest.NewServer(svc.handler)
	defer lg.Close()

	// The scratch repository and the watched one.
	dev, bare := filepath.Join(work, "scratch"), filepath.Join(work, "watched.git")
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=LeakGuard drill", "GIT_AUTHOR_EMAIL=drill@leakguard.invalid", "GIT_COMMITTER_NAME=LeakGuard drill", "GIT_COMMITTER_EMAIL=drill@leakguard.invalid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", args[0], err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if err := os.MkdirAll(dev, 0o700); err != nil {
		return err
	}
	env := "AWS_ACCESS_KEY_ID=" + keyID + "\nAWS_SECRET_ACCESS_KEY=" + aws.ToString(key.AccessKey.SecretAccessKey) + "\n"
	if err := os.WriteFile(filepath.Join(dev, "deploy.env"), []byte(env), 0o600); err != nil {
		return err
	}
	for _, step := range [][]string{{"init", "--quiet", "-b", "main"}, {"add", "deploy.env"}, {"commit", "--quiet", "-m", "drill: canary key"}, {"init", "--quiet", "--bare", bare}} {
		if _, err := git(dev, step...); err != nil {
			return err
		}
	}
	sha, err := git(dev, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	pushed := time.Now()
	if _, err := git(dev, "push", "--quiet", bare, "main"); err != nil {
		return err
	}
	body, _ := json.Marshal(pushPayload(strings.Repeat("0", 40), sha, "refs/heads/main", "drill/scratch", bare, "", "drill", pushed))
	if err := deliver(ctx, http.DefaultClient, lg.URL+"/hooks/push", []byte(hookSecret), body); err != nil {
		return fmt.Errorf("report the push: %w", err)
	}
	fmt.Fprintf(a.Stdout, "Pushed %s with key %s; waiting for LeakGuard...\n", sha[:7], keyID)

	var inc incident.Incident
	deadline := time.Now().Add(*timeout)
	for {
		list, err := svc.store.List(ctx, incident.Filter{})
		if err != nil {
			return err
		}
		if len(list) > 0 {
			inc = list[0]
			_, contained := inc.At(incident.ContainedEvent)
			_, notified := inc.At(incident.Notified)
			if contained && (notified || len(cfg.Owners(inc.Account)) == 0) {
				break
			}
		}
		if time.Now().After(deadline) {
			if inc.ID == "" {
				return errors.New("drill: no incident after " + timeout.String())
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nStep\tLeakGuard\tAWS + GitHub (article)")
	article := map[string]string{incident.Pushed: "+0 s", incident.ContainedEvent: "+67 s", incident.Notified: "+116 s"}
	for _, k := range []string{incident.Pushed, incident.Received, incident.Detected, incident.ContainedEvent, incident.Verified, incident.Notified} {
		ours := "-"
		if d, ok := inc.Since(k); ok {
			ours = fmt.Sprintf("+%.3f s", d)
		}
		theirs := article[k]
		if theirs == "" {
			theirs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, ours, theirs)
	}
	fmt.Fprintf(tw, "first attacker call\t-\t+80 s\n")
	tw.Flush()
	if _, ok := inc.At(incident.ContainedEvent); !ok {
		return fmt.Errorf("drill: the key was not contained within %s; see the incident's audit log", *timeout)
	}
	if *keep {
		fmt.Fprintf(a.Stdout, "Kept canary user %s and key %s.\n", user, keyID)
	}
	return nil
}

// removeCanary deletes the drill's user, key and policies.
func (a *App) removeCanary(admin *iam.Client, user, keyID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if keyID != "" {
		_, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)})
		errs = append(errs, err)
	}
	if att, err := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)}); err == nil {
		for _, p := range att.AttachedPolicies {
			_, err := admin.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: p.PolicyArn})
			errs = append(errs, err)
		}
	}
	if in, err := admin.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)}); err == nil {
		for _, p := range in.PolicyNames {
			_, err := admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(p)})
			errs = append(errs, err)
		}
	}
	_, err := admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(user)})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(a.Stderr, "leakguard: removing canary %s: %v\n", user, err)
		return
	}
	fmt.Fprintf(a.Stdout, "Canary user %s and its key deleted.\n", user)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
