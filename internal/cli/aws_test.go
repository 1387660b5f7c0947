package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/respond"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// fakeCloudTrail answers LookupEvents in CloudTrail's wire format. It
// exists because moto does not implement LookupEvents; it returns the
// attacker's calls seen in the article for one key.
func fakeCloudTrail(t *testing.T, keyID, account string, at time.Time) *httptest.Server {
	rec := func(id, source, name, code string, dt time.Duration) map[string]any {
		inner := map[string]any{
			"eventVersion": "1.09", "eventTime": at.Add(dt).UTC().Format(time.RFC3339), "eventSource": source + ".amazonaws.com",
			"eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0 Python/3.11",
			"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + account + ":user/leaky", "accountId": account, "accessKeyId": keyID, "userName": "leaky"},
			"eventID":      id, "requestID": "req-" + id, "readOnly": true, "recipientAccountId": account, "eventType": "AwsApiCall",
		}
		if code != "" {
			inner["errorCode"], inner["errorMessage"] = code, "not authorized"
		}
		b, _ := json.Marshal(inner)
		return map[string]any{"EventId": id, "EventName": name, "ReadOnly": "true", "AccessKeyId": keyID, "EventTime": float64(at.Add(dt).Unix()), "EventSource": source + ".amazonaws.com", "CloudTrailEvent": string(b)}
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".LookupEvents") {
			http.Error(w, "unexpected target", http.StatusBadRequest)
			return
		}
		var in struct {
			LookupAttributes []struct{ AttributeKey, AttributeValue string }
		}
		json.NewDecoder(r.Body).Decode(&in)
		events := []any{}
		if len(in.LookupAttributes) == 1 && in.LookupAttributes[0].AttributeValue == keyID {
			events = append(events, rec("e1", "sts", "GetCallerIdentity", "", 13*time.Second), rec("e2", "iam", "ListUsers", "", 14*time.Second), rec("e3", "iam", "CreateUser", "AccessDenied", 15*time.Second))
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"Events": events})
	}))
}

type ticketIntake struct {
	mu   sync.Mutex
	got  []map[string]any
	auth []string
}

func (ti *ticketIntake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	ti.mu.Lock()
	ti.got = append(ti.got, body)
	ti.auth = append(ti.auth, r.Header.Get("Authorization"))
	n := len(ti.got)
	ti.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"key": fmt.Sprintf("SEC-%d", n)})
}

type awsEnv struct {
	srv     *mototest.Server
	acct    mototest.Account
	admin   *iam.Client
	dir     string
	auditLg string
	mail    *smtptest.Server
	tickets *ticketIntake
}

func (e *awsEnv) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"LEAKGUARD_SMTP_PASSWORD": e.mail.Password, "LEAKGUARD_TICKET_TOKEN": "tok-123", "HOME": e.dir, "USER": "oncall"}
	app := &App{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Version: "test",
		Getenv: func(k string) string { return env[k] }, SMTPTLS: e.mail.ClientTLS}
	code := app.Run(context.Background(), append([]string{"aws"}, args...))
	return code, out.String(), errb.String()
}

func newAWSEnv(t *testing.T, smtpAddr string) (*awsEnv, string) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	e := &awsEnv{srv: srv, acct: acct, admin: iam.NewFromConfig(acct.AdminConfig()), dir: t.TempDir(), mail: smtptest.Start(t), tickets: &ticketIntake{}}
	e.auditLg = filepath.Join(e.dir, "audit.jsonl")
	if smtpAddr == "" {
		smtpAddr = e.mail.Addr
	}
	intake := httptest.NewServer(e.tickets)
	t.Cleanup(intake.Close)
	// LeakGuard's own identity comes from the standard AWS environment.
	t.Setenv("AWS_ACCESS_KEY_ID", acct.Admin.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", acct.Admin.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(e.dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(e.dir, "none"))
	return e, fmt.Sprintf(`
[aws]
endpoint = %q
check_timeout = "10s"
[[aws.accounts]]
id = %q
name = "prod"
owners = ["owner@example.com"]
[cloudtrail]
endpoint = "CLOUDTRAIL"
[notify]
attempts = 2
[notify.smtp]
addr = %q
from = "LeakGuard <leakguard@example.com>"
username = "leakguard"
password_env = "LEAKGUARD_SMTP_PASSWORD"
tls = "starttls"
[ticket.webhook]
url = %q
token_env = "LEAKGUARD_TICKET_TOKEN"
[audit]
path = %q
`, srv.URL, acct.ID, smtpAddr, intake.URL, e.auditLg)
}

func writeConfig(t testing.TB, dir, body string) string {
	p := filepath.Join(dir, fmt.Sprintf("leakguard-%d.toml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAWSContainEndToEnd is the article's incident handled by LeakGuard:
// an administrator's key leaks; `aws contain` quarantines it, proves with
// the key itself that it is contained, reads the attacker's CloudTrail
// calls, emails the owner and opens a ticket; `aws release` waits for the
// key to be deleted.
func TestAWSContainEndToEnd(t *testing.T) {
	e, cfgText := newAWSEnv(t, "")
	ctx := context.Background()
	if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("leaky")}); err != nil {
		t.Fatal(err)
	}
	e.admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("leaky"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	k, err := e.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("leaky")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
	ct := fakeCloudTrail(t, keyID, e.acct.ID, time.Now().Add(-time.Minute))
	defer ct.Close()
	cfg := writeConfig(t, e.dir, strings.Replace(cfgText, "CLOUDTRAIL", ct.URL, 1))

	code, out, errOut := e.run(t, secret+"\n", "contain", keyID, "--config", cfg, "--secret-stdin", "--json",
		"--found-url", "https://github.com/acme/app/blob/1a2b3c4/config/prod.env#L3", "--found-where", "commit 1a2b3c4 in acme/app, config/prod.env line 3")
	if code != 0 {
		t.Fatalf("contain exit %d\n%s\n%s", code, out, errOut)
	}
	var rep respond.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("contain --json: %v\n%s", err, out)
	}
	c := rep.Containment
	if !c.Holds || !c.Proved || !c.Live.Live || c.Identity.Principal != "leaky" || c.Identity.AccountName != "prod" {
		t.Errorf("containment %+v", c)
	}
	if rep.Summary.Calls != 3 || rep.Summary.Denied != 1 || len(rep.Summary.SourceIPs) != 1 {
		t.Errorf("activity summary %+v", rep.Summary)
	}
	if len(rep.Deliveries) != 1 || rep.Deliveries[0].Error != "" || rep.CaseRef != "SEC-1" {
		t.Errorf("deliveries %+v case %q", rep.Deliveries, rep.CaseRef)
	}

	// Signed with the leaked key: denied, except GetCallerIdentity.
	leaked := e.srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret})
	if _, err := iam.NewFromConfig(leaked).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("leaky")}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("iam:CreateAccessKey with the leaked key after containment: %v", err)
	}
	if _, err := sts.NewFromConfig(leaked).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("sts:GetCallerIdentity: %v", err)
	}

	// The owner's email arrived, over STARTTLS, and says what happened.
	msgs := e.mail.Wait(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	if !msgs[0].TLS || msgs[0].To[0] != "owner@example.com" {
		t.Errorf("mail envelope %+v", msgs[0].To)
	}
	subject, text, html := parseMail(t, msgs[0].Data)
	if !strings.Contains(subject, keyID) && !strings.Contains(subject, e.acct.ID) {
		t.Errorf("subject %q names neither key nor account", subject)
	}
	for _, want := range []string{keyID, e.acct.ID, "leaky", "https://github.com/acme/app/blob/1a2b3c4/config/prod.env#L3", "AWSCompromisedKeyQuarantineV3", "198.51.100.7", "CreateUser", "delete-access-key", "leakguard aws release"} {
		if !strings.Contains(text, want) {
			t.Errorf("email text lacks %q", want)
		}
		if !strings.Contains(html, want) {
			t.Errorf("email HTML lacks %q", want)
		}
	}
	// The ticket was opened with the token.
	if len(e.tickets.got) != 1 || e.tickets.auth[0] != "Bearer tok-123" || !strings.Contains(fmt.Sprint(e.tickets.got[0]["body"]), keyID) {
		t.Errorf("tickets %+v %v", e.tickets.got, e.tickets.auth)
	}

	// A second run changes nothing, sends no second email, opens no second case.
	code, out, errOut = e.run(t, secret+"\n", "contain", keyID, "--config", cfg, "--secret-stdin")
	if code != 0 || !strings.Contains(out, "Already contained") {
		t.Fatalf("second contain exit %d\n%s\n%s", code, out, errOut)
	}
	time.Sleep(200 * time.Millisecond) // a second email, if one were sent, would be in flight
	if n := len(e.mail.Messages()); n != 1 || len(e.tickets.got) != 1 {
		t.Errorf("second run sent %d emails, %d tickets in all", n, len(e.tickets.got))
	}

	// whois shows the quarantine.
	code, out, _ = e.run(t, "", "whois", keyID, "--config", cfg)
	if code != 0 || !strings.Contains(out, "AWSCompromisedKeyQuarantineV3") || !strings.Contains(out, "user leaky") {
		t.Errorf("whois exit %d:\n%s", code, out)
	}

	// Release refuses while the key is active, then works once it is deleted.
	code, _, errOut = e.run(t, "", "release", keyID, "--config", cfg, "--actor", "alice")
	if code != ExitFindings || !strings.Contains(errOut, "still active") {
		t.Fatalf("release of active key: exit %d %s", code, errOut)
	}
	if _, err := e.admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("leaky"), AccessKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = e.run(t, "", "release", keyID, "--config", cfg, "--actor", "alice")
	if code != 0 {
		t.Fatalf("release exit %d\n%s\n%s", code, out, errOut)
	}
	att, _ := e.admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("leaky")})
	if len(att.AttachedPolicies) != 1 {
		t.Errorf("policies after release: %+v", att.AttachedPolicies)
	}

	// The audit log has every step, who did it, and never the secret.
	raw, err := os.ReadFile(e.auditLg)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := audit.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{}
	var releasedBy string
	for _, en := range entries {
		steps[en.Step+"/"+en.Outcome] = true
		if en.Step == "release" && en.Outcome == audit.Done {
			releasedBy = en.Actor
		}
	}
	for _, want := range []string{"verify/checked", "identify/checked", "quarantine/done", "check/checked", "prove/checked", "activity/checked", "notify/done", "case/done", "quarantine/already in place", "release/refused", "release/done"} {
		if !steps[want] {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if releasedBy != "alice" {
		t.Errorf("release recorded by %q", releasedBy)
	}
	for name, s := range map[string]string{"audit log": string(raw), "email": string(msgs[0].Data), "stdout": out, "ticket": fmt.Sprint(e.tickets.got)} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains the secret", name)
		}
	}
}

// TestAWSContainSMTPDown: the mail server is down; the key is still
// contained, the command exits 3 and the failure is audited. Run again with
// the server up, the email goes out once; nothing is lost.
func TestAWSContainSMTPDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	e, cfgText := newAWSEnv(t, dead)
	ctx := context.Background()
	e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")})
	k, err := e.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *k.AccessKey.AccessKeyId
	ct := fakeCloudTrail(t, keyID, e.acct.ID, time.Now())
	defer ct.Close()
	cfgText = strings.Replace(cfgText, "CLOUDTRAIL", ct.URL, 1)
	cfg := writeConfig(t, e.dir, cfgText)
	code, out, errOut := e.run(t, "", "contain", keyID, "--config", cfg, "--no-case")
	if code != ExitFollowUp || !strings.Contains(errOut, "contained") {
		t.Fatalf("contain with SMTP down: exit %d\n%s\n%s", code, out, errOut)
	}
	att, _ := e.admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("dev")})
	if len(att.AttachedPolicies) != 1 {
		t.Fatalf("key not contained while SMTP was down: %+v", att.AttachedPolicies)
	}
	entries, _ := audit.ReadFile(e.auditLg)
	var failed bool
	for _, en := range entries {
		failed = failed || (en.Step == "notify" && en.Outcome == audit.Failed && strings.Contains(en.Detail, "2 attempt"))
	}
	if !failed {
		t.Errorf("audit log lacks the failed notification after 2 attempts: %+v", entries)
	}
	// The mail server is back (at its new address).
	cfg = writeConfig(t, e.dir, strings.Replace(cfgText, dead, e.mail.Addr, 1))
	code, out, errOut = e.run(t, "", "contain", keyID, "--config", cfg, "--no-case")
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(e.mail.Wait(1, 10*time.Second)); n != 1 {
		t.Fatalf("%d emails after the server came back", n)
	}
}

func TestAWSUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := app.Run(context.Background(), []string{"aws", "--help"}); code != 0 || !strings.Contains(out.String(), "Exit codes") {
		t.Errorf("aws --help: %d %s", code, out.String())
	}
	for _, args := range [][]string{{"aws"}, {"aws", "nuke", "AKIA"}, {"aws", "whois"}, {"aws", "contain", "AKIAY34FZKBOKMUTVV7A", "--policy", "nuke", "--audit-log", filepath.Join(t.TempDir(), "a")}} {
		errb.Reset()
		if code := app.Run(context.Background(), args); code != ExitError {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	if _, _, err := readSecret(strings.NewReader("a\nb\nc\n")); err == nil {
		t.Error("three lines accepted as a secret")
	}
}

func parseMail(t *testing.T, data []byte) (subject, text, html string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, _ = dec.DecodeHeader(m.Header.Get("Subject"))
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart.Part decodes quoted-printable
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
	return subject, text, html
}

// TestAWSContainFailureTellsOwner: LeakGuard may read IAM but not change
// it. Containment fails with AWS's refusal, exit 2, and the owner is told
// at once that the key is NOT contained.
func TestAWSContainFailureTellsOwner(t *testing.T) {
	e, cfgText := newAWSEnv(t, "")
	ctx := context.Background()
	e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("victim")})
	k, err := e.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("victim")})
	if err != nil {
		t.Fatal(err)
	}
	e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")})
	e.admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("reader"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")})
	e.admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("reader"), PolicyName: aws.String("sts"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetAccessKeyInfo","sts:GetCallerIdentity"],"Resource":"*"}]}`)})
	rk, err := e.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", *rk.AccessKey.AccessKeyId)
	t.Setenv("AWS_SECRET_ACCESS_KEY", *rk.AccessKey.SecretAccessKey)
	cfg := writeConfig(t, e.dir, strings.Replace(cfgText, "CLOUDTRAIL", "http://127.0.0.1:1", 1))
	code, out, errOut := e.run(t, "", "contain", *k.AccessKey.AccessKeyId, "--config", cfg)
	if code != ExitError || !strings.Contains(errOut, "AccessDenied") {
		t.Fatalf("contain without permission: exit %d\n%s\n%s", code, out, errOut)
	}
	msgs := e.mail.Wait(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d emails: the owner was not told containment failed", len(msgs))
	}
	subject, text, _ := parseMail(t, msgs[0].Data)
	if !strings.Contains(strings.ToUpper(subject+text), "FAILED") || !strings.Contains(text, *k.AccessKey.AccessKeyId) {
		t.Errorf("failure email does not say it failed:\n%s\n%s", subject, text)
	}
	entries, _ := audit.ReadFile(e.auditLg)
	var told bool
	for _, en := range entries {
		told = told || (en.Step == "notify-not-contained" && en.Outcome == audit.Done)
	}
	if !told {
		t.Errorf("audit log lacks notify-not-contained: %+v", entries)
	}
	if len(e.tickets.got) != 0 {
		t.Errorf("a case was opened for an incident that is not contained yet: %v", e.tickets.got)
	}
}
