package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// TestDrill runs the drill against moto: a canary is created, leaked,
// contained and reported, the timeline is printed beside the article's,
// and the canary is deleted afterwards.
func TestDrill(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	mail := smtptest.Start(t)
	trailURL := mototest.CloudTrailWithoutEvents(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
[cloudtrail]
endpoint = %q
[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify.smtp]
addr = %q
from = "leakguard@example.com"
username = "leakguard"
password_env = "SMTP_PW"
`, trailURL, acct.ID, mail.Addr))
	base := acct.AdminConfig()
	var out, errb bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return map[string]string{"SMTP_PW": mail.Password}[k] }, SMTPTLS: mail.ClientTLS, AWSConfig: &base}
	if code := app.Run(context.Background(), []string{"drill", "--config", cfg}); code != 0 {
		t.Fatalf("drill exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"contained", "+67 s", "notified", "+116 s", "deleted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("drill output lacks %q:\n%s", want, out.String())
		}
	}
	if n := len(mail.Wait(1, 10*time.Second)); n != 1 {
		t.Errorf("%d emails", n)
	}
	users, err := iam.NewFromConfig(base).ListUsers(context.Background(), &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 1 {
		t.Errorf("canary left behind: %d users", len(users.Users))
	}
	t.Log(out.String())
}
