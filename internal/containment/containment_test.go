package containment

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

// leakyUser creates a user with AdministratorAccess and an access key in
// the account: the worst key to leak.
func leakyUser(t *testing.T, admin *iam.Client, name string) Credentials {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		t.Fatal(err)
	}
	out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return Credentials{KeyID: *out.AccessKey.AccessKeyId, Secret: *out.AccessKey.SecretAccessKey}
}

func responder(srv *mototest.Server, acct mototest.Account, rec audit.Recorder, accounts ...Account) *Responder {
	if len(accounts) == 0 {
		accounts = []Account{{ID: acct.ID, Name: "test", Policy: Quarantine}}
	}
	return &Responder{
		Base: acct.AdminConfig(), Accounts: accounts, Audit: rec, Actor: "test",
		CheckTimeout: 5 * time.Second, Version: "test",
	}
}

// leakedClients sign with the leaked key itself.
func leakedConfig(srv *mototest.Server, c Credentials) aws.Config {
	return srv.Config(aws.Credentials{AccessKeyID: c.KeyID, SecretAccessKey: c.Secret, SessionToken: c.SessionToken})
}

func mustDeny(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s with the leaked key succeeded after containment", what)
		return
	}
	if !isDenied(err) {
		t.Errorf("%s: want AccessDenied, got %v", what, err)
	}
}

func TestContainQuarantineEndToEnd(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	leaked := leakyUser(t, admin, "leaky")

	// Before containment the leaked key can do anything.
	lc := leakedConfig(srv, leaked)
	if _, err := iam.NewFromConfig(lc).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("leaked key should work before containment: %v", err)
	}

	logPath := filepath.Join(t.TempDir(), "audit.jsonl")
	file, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := responder(srv, acct, file)
	res, err := r.Contain(ctx, Request{Credentials: leaked, Incident: "inc-1"})
	if err != nil {
		t.Fatalf("contain: %v", err)
	}
	if !res.Holds || !res.Proved || !res.Changed {
		t.Fatalf("holds=%v proved=%v changed=%v", res.Holds, res.Proved, res.Changed)
	}
	if res.Identity.Account != acct.ID || res.Identity.Principal != "leaky" || res.Identity.AccountSource != "offline+sts" {
		t.Errorf("identity = %+v", res.Identity)
	}
	if !res.Live.Live || !strings.HasSuffix(res.Live.ARN, ":user/leaky") {
		t.Errorf("liveness = %+v", res.Live)
	}

	// Signed with the leaked key itself: the dangerous calls are denied…
	_, err = iam.NewFromConfig(lc).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("attacker")})
	mustDeny(t, "iam:CreateUser", err)
	_, err = iam.NewFromConfig(lc).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("leaky")})
	mustDeny(t, "iam:CreateAccessKey", err)
	_, err = ec2.NewFromConfig(lc).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	mustDeny(t, "ec2:RunInstances", err)
	_, err = s3.NewFromConfig(lc, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
	mustDeny(t, "s3:ListAllMyBuckets", err)
	// …while sts:GetCallerIdentity, which no policy can deny, still works.
	if _, err := sts.NewFromConfig(lc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("sts:GetCallerIdentity: %v", err)
	}

	// The audit log has every step, with AWS request IDs for the changes.
	entries, err := audit.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]audit.Entry{}
	for _, e := range entries {
		steps[e.Step] = e
		if e.KeyID != leaked.KeyID || e.Incident != "inc-1" || e.Actor != "test" || e.Time.IsZero() {
			t.Errorf("entry lacks context: %+v", e)
		}
		if strings.Contains(e.Detail+e.Error+e.Target, leaked.Secret) {
			t.Errorf("audit entry contains the secret: %+v", e)
		}
	}
	for _, want := range []string{"verify", "identify", "quarantine", "check", "prove"} {
		if _, ok := steps[want]; !ok {
			t.Errorf("audit log lacks step %q: %+v", want, entries)
		}
	}
	q := steps["quarantine"]
	if q.Outcome != audit.Done || q.Target != quarantineV3 || q.RequestID == "" || q.Action != "iam:AttachUserPolicy" {
		t.Errorf("quarantine entry = %+v", q)
	}
	if p := steps["prove"]; p.Outcome != audit.Checked || !strings.Contains(p.Detail, "AccessDenied") {
		t.Errorf("prove entry = %+v", p)
	}
	raw, _ := os.ReadFile(logPath)
	if strings.Contains(string(raw), leaked.Secret) {
		t.Fatal("audit log file contains the secret")
	}

	// Running it again changes nothing and says so.
	again, err := r.Contain(ctx, Request{Credentials: leaked, Incident: "inc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed {
		t.Errorf("second containment changed something: %+v", again.Steps)
	}
	for _, e := range again.Steps {
		if e.Step == "quarantine" && e.Outcome != audit.Already {
			t.Errorf("second run quarantine outcome %q", e.Outcome)
		}
	}
	att, err := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("leaky")})
	if err != nil {
		t.Fatal(err)
	}
	if len(att.AttachedPolicies) != 2 {
		t.Errorf("attached policies after two runs: %d, want AdministratorAccess + V3", len(att.AttachedPolicies))
	}

	// Release refuses while the key is active…
	_, err = r.Release(ctx, ReleaseRequest{KeyID: leaked.KeyID, Incident: "inc-1"})
	if !errors.Is(err, ErrKeyActive) {
		t.Fatalf("release of an active key: %v, want ErrKeyActive", err)
	}
	att, _ = admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("leaky")})
	if len(att.AttachedPolicies) != 2 {
		t.Fatal("a refused release removed the quarantine")
	}
	// …and succeeds once the key is deleted.
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("leaky"), AccessKeyId: aws.String(leaked.KeyID)}); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Release(ctx, ReleaseRequest{KeyID: leaked.KeyID, Principal: "user/leaky", Incident: "inc-1"})
	if err != nil {
		t.Fatalf("release: %v", err)
	}
	att, _ = admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("leaky")})
	if len(att.AttachedPolicies) != 1 || *att.AttachedPolicies[0].PolicyName != "AdministratorAccess" {
		t.Errorf("after release: %+v", att.AttachedPolicies)
	}
	var detached bool
	for _, e := range rel.Steps {
		detached = detached || (e.Action == "iam:DetachUserPolicy" && e.Outcome == audit.Done && e.Actor == "test")
	}
	if !detached {
		t.Errorf("release steps: %+v", rel.Steps)
	}
}

func TestContainDeactivateAndDenyAll(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())

	r := responder(srv, acct, &audit.Memory{}, Account{ID: acct.ID, Policy: Deactivate})
	k1 := leakyUser(t, admin, "deactivate-me")
	res, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: k1.KeyID}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy != Deactivate || !res.Holds || res.Proved {
		t.Errorf("policy=%s holds=%v proved=%v (no secret given: nothing to prove with)", res.Policy, res.Holds, res.Proved)
	}
	keys, _ := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("deactivate-me")})
	if string(keys.AccessKeyMetadata[0].Status) != StatusInactive {
		t.Errorf("key status %s", keys.AccessKeyMetadata[0].Status)
	}
	pol, err := admin.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("deactivate-me"), PolicyName: aws.String(revokePolicyName)})
	if err != nil {
		t.Fatalf("revoke-sessions policy: %v", err)
	}
	doc, _ := url.QueryUnescape(*pol.PolicyDocument)
	if ts, ok := revokeTime(doc); !ok || ts.After(time.Now()) || time.Since(ts) > time.Minute {
		t.Errorf("revoke cut-off %v from %s", ts, doc)
	}
	// Idempotent, given the first run's cut-off.
	again, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: k1.KeyID}, Since: res.Started})
	if err != nil || again.Changed {
		t.Errorf("second deactivate: changed=%v err=%v steps=%+v", again.Changed, err, again.Steps)
	}

	// An Inactive key may be released; the owner is told to delete it.
	rel, err := r.Release(ctx, ReleaseRequest{KeyID: k1.KeyID})
	if err != nil {
		t.Fatalf("release of an inactive key: %v", err)
	}
	if d := rel.Steps[0].Detail; rel.Steps[0].Step != "release-precondition" || !strings.Contains(d, "delete-access-key") {
		t.Errorf("release precondition = %+v", rel.Steps[0])
	}

	k2 := leakyUser(t, admin, "deny-me")
	res, err = r.Contain(ctx, Request{Credentials: k2, Policy: DenyAll})
	if err != nil || !res.Proved {
		t.Fatalf("deny-all: proved=%v err=%v", res.Proved, err)
	}
	// Even calls the quarantine allows are denied now.
	_, err = iam.NewFromConfig(leakedConfig(srv, k2)).ListRoles(ctx, &iam.ListRolesInput{})
	mustDeny(t, "iam:ListRoles", err)
}

func TestDryRunChangesNothing(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	k := leakyUser(t, admin, "dry")
	rec := &audit.Memory{}
	r := responder(srv, acct, rec, Account{ID: acct.ID, Policy: Deactivate})
	res, err := r.Contain(ctx, Request{Credentials: k, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Live.Checked {
		t.Errorf("dry run changed=%v verified=%v", res.Changed, res.Live.Checked)
	}
	var planned []string
	for _, e := range rec.Entries() {
		if e.Outcome == audit.Planned {
			planned = append(planned, e.Step)
		}
	}
	if strings.Join(planned, ",") != "quarantine,deactivate,revoke-sessions" {
		t.Errorf("planned %v", planned)
	}
	att, _ := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("dry")})
	in, _ := admin.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("dry")})
	keys, _ := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("dry")})
	if len(att.AttachedPolicies) != 1 || len(in.PolicyNames) != 0 || keys.AccessKeyMetadata[0].Status != "Active" {
		t.Errorf("dry run changed IAM: %d attached, %v inline, key %s", len(att.AttachedPolicies), in.PolicyNames, keys.AccessKeyMetadata[0].Status)
	}
}

func TestRevokeTemporaryKeySessions(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	// moto matches trust principals literally, so the trust names the user.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct.ID + `:user/admin"},"Action":"sts:AssumeRole"}]}`
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		t.Fatal(err)
	}
	as, err := sts.NewFromConfig(acct.AdminConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct.ID + ":role/app"), RoleSessionName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	leaked := Credentials{KeyID: *as.Credentials.AccessKeyId, Secret: *as.Credentials.SecretAccessKey, SessionToken: *as.Credentials.SessionToken}
	if !strings.HasPrefix(leaked.KeyID, "ASIA") {
		t.Fatalf("AssumeRole gave %s", leaked.KeyID)
	}
	lc := leakedConfig(srv, leaked)
	if _, err := iam.NewFromConfig(lc).ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("session should work before containment: %v", err)
	}
	r := responder(srv, acct, &audit.Memory{})
	// Without the secret, LeakGuard cannot tell whose session it is.
	if _, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: leaked.KeyID}}); !errors.Is(err, ErrNoPrincipal) {
		t.Fatalf("ASIA key without secret or principal: %v, want ErrNoPrincipal", err)
	}
	res, err := r.Contain(ctx, Request{Credentials: leaked})
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy != RevokeSessions || res.Identity.PrincipalType != "role" || res.Identity.Principal != "app" || !res.Proved {
		t.Errorf("result: policy=%s principal=%s/%s proved=%v", res.Policy, res.Identity.PrincipalType, res.Identity.Principal, res.Proved)
	}
	_, err = iam.NewFromConfig(lc).ListRoles(ctx, &iam.ListRolesInput{})
	mustDeny(t, "iam:ListRoles with the revoked session", err)
	pol, err := admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String(revokePolicyName)})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := url.QueryUnescape(*pol.PolicyDocument)
	if !strings.Contains(doc, "aws:TokenIssueTime") {
		t.Errorf("revoke document %s", doc)
	}
	// With an explicit principal the same works without the secret, and it
	// is idempotent for the same cut-off.
	again, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: leaked.KeyID}, Principal: "role/app", Since: res.Started})
	if err != nil || again.Changed {
		t.Errorf("second revoke: changed=%v err=%v", again.Changed, err)
	}
}

func TestCrossAccountRoleAndUnconfiguredAccount(t *testing.T) {
	srv := mototest.Start(t)
	home := srv.NewAccount(t)
	prod := srv.NewAccount(t)
	other := srv.NewAccount(t)
	ctx := context.Background()
	prodAdmin := iam.NewFromConfig(prod.AdminConfig())
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + home.ID + `:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := prodAdmin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("LeakGuardResponder"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := prodAdmin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("LeakGuardResponder"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMFullAccess")}); err != nil {
		t.Fatal(err)
	}
	k := leakyUser(t, prodAdmin, "prod-app")
	rec := &audit.Memory{}
	r := responder(srv, home, rec,
		Account{ID: prod.ID, Name: "prod", RoleARN: "arn:aws:iam::" + prod.ID + ":role/LeakGuardResponder", Policy: Quarantine})
	res, err := r.Contain(ctx, Request{Credentials: k})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.Account != prod.ID || res.Identity.AccountName != "prod" || !res.Proved {
		t.Errorf("identity %+v proved=%v", res.Identity, res.Proved)
	}
	_, err = iam.NewFromConfig(leakedConfig(srv, k)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	mustDeny(t, "iam:CreateUser in prod", err)

	// A key from an account LeakGuard has no role in: a clear error, and
	// nothing is changed there.
	ko := leakyUser(t, iam.NewFromConfig(other.AdminConfig()), "elsewhere")
	_, err = r.Contain(ctx, Request{Credentials: Credentials{KeyID: ko.KeyID}})
	if !errors.Is(err, ErrNoAccountRole) || !strings.Contains(err.Error(), other.ID) {
		t.Fatalf("unconfigured account: %v", err)
	}
	att, _ := iam.NewFromConfig(other.AdminConfig()).ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("elsewhere")})
	if len(att.AttachedPolicies) != 1 {
		t.Errorf("unconfigured account was changed: %+v", att.AttachedPolicies)
	}
}

func TestNoPermissionToAttach(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	k := leakyUser(t, admin, "victim")
	// The responder can read IAM but not change it.
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("readonly")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("readonly"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("readonly"), PolicyName: aws.String("sts"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetAccessKeyInfo","sts:GetCallerIdentity"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	ro, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("readonly")})
	if err != nil {
		t.Fatal(err)
	}
	rec := &audit.Memory{}
	r := &Responder{
		Base:     srv.Config(aws.Credentials{AccessKeyID: *ro.AccessKey.AccessKeyId, SecretAccessKey: *ro.AccessKey.SecretAccessKey}),
		Accounts: []Account{{ID: acct.ID}}, Audit: rec, Actor: "test",
	}
	res, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: k.KeyID}})
	if err == nil || !isDenied(err) {
		t.Fatalf("contain without permission: %v, want AccessDenied", err)
	}
	if !strings.Contains(err.Error(), "quarantine") || !strings.Contains(err.Error(), k.KeyID) {
		t.Errorf("error lacks context: %v", err)
	}
	if res.Holds || res.Changed || !res.Contained.IsZero() {
		t.Errorf("result claims progress: %+v", res)
	}
	entries := rec.Entries()
	last := entries[len(entries)-1]
	if last.Step != "quarantine" || last.Outcome != audit.Failed || last.RequestID == "" || !strings.Contains(last.Error, "AccessDenied") {
		t.Errorf("last audit entry = %+v", last)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	k := leakyUser(t, admin, "throttled")
	// moto never throttles, so this proxy in front of it answers the first
	// three AttachUserPolicy calls exactly as IAM does when throttling.
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var throttled, attaches atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if strings.Contains(string(body), "Action=AttachUserPolicy") {
			if attaches.Add(1) <= 3 {
				throttled.Add(1)
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttle-`+time.Now().Format("150405.000")+`</RequestId></ErrorResponse>`)
				return
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	defer front.Close()
	cfg := acct.AdminConfig()
	cfg.BaseEndpoint = aws.String(front.URL)
	rec := &audit.Memory{}
	r := &Responder{Base: cfg, Accounts: []Account{{ID: acct.ID}}, Audit: rec, Actor: "test",
		Sleep: func(context.Context, time.Duration) error { return nil }}
	res, err := r.Contain(ctx, Request{Credentials: Credentials{KeyID: k.KeyID}})
	if err != nil {
		t.Fatalf("contain through throttling: %v", err)
	}
	if throttled.Load() != 3 || attaches.Load() != 4 || !res.Holds {
		t.Errorf("throttled %d, attach attempts %d, holds %v", throttled.Load(), attaches.Load(), res.Holds)
	}
}

func TestKeyAlreadyDeleted(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())
	k := leakyUser(t, admin, "gone")
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("gone"), AccessKeyId: aws.String(k.KeyID)}); err != nil {
		t.Fatal(err)
	}
	r := responder(srv, acct, &audit.Memory{})
	res, err := r.Contain(ctx, Request{Credentials: k})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.Status != StatusDeleted || res.Changed || !res.Holds || res.Live.Live {
		t.Errorf("deleted key: status=%s changed=%v holds=%v live=%+v", res.Identity.Status, res.Changed, res.Holds, res.Live)
	}
	if res.Live.Detail != "InvalidClientTokenId" {
		t.Errorf("verification of a deleted key: %+v", res.Live)
	}
}

func TestIdentifyRejectsNonKeys(t *testing.T) {
	r := &Responder{Audit: &audit.Memory{}}
	for _, s := range []string{"", "AKIA", "AKIAIOSFODNN7EXAMPL1", "ghp_abc", "AKIAIOSFODNN7EXAMPLEX"} {
		if _, err := r.Identify(context.Background(), IdentifyRequest{KeyID: s}); err == nil || !strings.Contains(err.Error(), "not an AWS access key ID") {
			t.Errorf("Identify(%q) = %v", s, err)
		}
	}
}

func TestRevokeTime(t *testing.T) {
	want := time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)
	for _, doc := range []string{
		revokeDocument(want),
		`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-29T02:30:00Z"}}}}`,
	} {
		if got, ok := revokeTime(doc); !ok || !got.Equal(want) {
			t.Errorf("revokeTime(%s) = %v %v", doc, got, ok)
		}
	}
	for _, doc := range []string{"", "{}", `{"Statement":[{"Condition":{"DateGreaterThan":{"aws:TokenIssueTime":"2026-11-29T02:30:00Z"}}}]}`} {
		if _, ok := revokeTime(doc); ok {
			t.Errorf("revokeTime(%q) found a cut-off", doc)
		}
	}
}

func TestParsePrincipal(t *testing.T) {
	for in, want := range map[string]string{
		"user/leaky": "user leaky",
		"role/app":   "role app",
		"arn:aws:iam::123456789012:user/path/to/leaky": "user leaky",
		"arn:aws:sts::123456789012:assumed-role/app/s": "role app",
		"arn:aws:iam::123456789012:role/app":           "role app",
	} {
		typ, name, err := parsePrincipal(in)
		if err != nil || typ+" "+name != want {
			t.Errorf("parsePrincipal(%q) = %s %s %v, want %s", in, typ, name, err, want)
		}
	}
	for _, in := range []string{"leaky", "group/x", "user/", "arn:aws:iam"} {
		if _, _, err := parsePrincipal(in); err == nil {
			t.Errorf("parsePrincipal(%q) accepted", in)
		}
	}
}

// iamRefusing puts a proxy in front of moto that answers AttachUserPolicy
// calls matching refuse with AWS's error, as IAM does in a partition
// without the quarantine policies or for a user with 10 managed policies
// (moto enforces neither). Everything else reaches moto.
func iamRefusing(t *testing.T, srv *mototest.Server, refuse func(body string) (code string, ok bool)) string {
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if code, ok := refuse(string(body)); ok && strings.Contains(string(body), "Action=AttachUserPolicy") {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>`+code+`</Code><Message>refused by the test proxy</Message></Error><RequestId>proxy-1</RequestId></ErrorResponse>`)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(front.Close)
	return front.URL
}

func TestQuarantineFallbacks(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(acct.AdminConfig())

	// No AWS managed quarantine policy here: a customer managed copy of V3
	// is created and attached, and it holds against the leaked key.
	k := leakyUser(t, admin, "no-managed")
	cfg := acct.AdminConfig()
	cfg.BaseEndpoint = aws.String(iamRefusing(t, srv, func(body string) (string, bool) {
		return "NoSuchEntity", strings.Contains(body, "AWSCompromisedKeyQuarantine")
	}))
	rec := &audit.Memory{}
	r := &Responder{Base: cfg, Accounts: []Account{{ID: acct.ID}}, Audit: rec, Actor: "test", CheckTimeout: 5 * time.Second}
	res, err := r.Contain(ctx, Request{Credentials: k})
	if err != nil || !res.Proved {
		t.Fatalf("contain with no managed policy: proved=%v %v", res.Proved, err)
	}
	var outcomes []string
	for _, e := range rec.Entries() {
		if e.Step == "quarantine" {
			outcomes = append(outcomes, e.Action+" "+e.Outcome)
		}
	}
	want := "iam:AttachUserPolicy unavailable,iam:AttachUserPolicy unavailable,iam:CreatePolicy done,iam:AttachUserPolicy done"
	if strings.Join(outcomes, ",") != want {
		t.Errorf("quarantine steps:\n got %s\nwant %s", strings.Join(outcomes, ","), want)
	}
	att, _ := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("no-managed")})
	var copied bool
	for _, p := range att.AttachedPolicies {
		copied = copied || *p.PolicyArn == "arn:aws:iam::"+acct.ID+":policy/"+copyPolicyName
	}
	if !copied {
		t.Errorf("copy not attached: %+v", att.AttachedPolicies)
	}

	// No room for another managed policy: an inline deny-all instead.
	k2 := leakyUser(t, admin, "full-user")
	cfg.BaseEndpoint = aws.String(iamRefusing(t, srv, func(string) (string, bool) { return "LimitExceeded", true }))
	r = &Responder{Base: cfg, Accounts: []Account{{ID: acct.ID}}, Audit: &audit.Memory{}, Actor: "test", CheckTimeout: 5 * time.Second}
	res, err = r.Contain(ctx, Request{Credentials: k2})
	if err != nil || !res.Proved {
		t.Fatalf("contain with no room: proved=%v %v", res.Proved, err)
	}
	in, _ := admin.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("full-user")})
	if len(in.PolicyNames) != 1 || in.PolicyNames[0] != denyAllPolicyName {
		t.Errorf("inline policies %v, want %s", in.PolicyNames, denyAllPolicyName)
	}
	_, err = iam.NewFromConfig(leakedConfig(srv, k2)).ListRoles(ctx, &iam.ListRolesInput{})
	mustDeny(t, "iam:ListRoles under the escalated deny-all", err)
}
