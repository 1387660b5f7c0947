package ticket

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/support"

	"github.com/leakguard/leakguard/internal/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

func testCase() Case {
	return Case{
		Subject:  "Exposed access key AKIAIOSFODNN7EXAMPLE in account 123456789012",
		Body:     "LeakGuard found the key in github.com/acme/shop and quarantined it.\nIncident inc-7.",
		Severity: "high",
		CC:       []string{"security@example.com"},
	}
}

func TestSupportCreatesCase(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	client := support.NewFromConfig(acct.AdminConfig())
	c := testCase()
	s := &Support{Client: client}
	ref, err := s.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, "case-") {
		t.Fatalf("ref = %q, want a case ID", ref)
	}
	out, err := client.DescribeCases(context.Background(), &support.DescribeCasesInput{CaseIdList: []string{ref}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Cases) != 1 {
		t.Fatalf("DescribeCases found %d cases", len(out.Cases))
	}
	got := out.Cases[0]
	// moto advances a case's status and severity on every DescribeCases,
	// so the severity sent is checked against the fake below instead.
	if aws.ToString(got.Subject) != c.Subject || aws.ToString(got.ServiceCode) != DefaultServiceCode ||
		aws.ToString(got.CategoryCode) != DefaultCategoryCode || aws.ToString(got.Language) != "en" ||
		!slices.Equal(got.CcEmailAddresses, c.CC) {
		t.Errorf("case = subject %q service %q category %q language %q cc %v",
			aws.ToString(got.Subject), aws.ToString(got.ServiceCode), aws.ToString(got.CategoryCode), aws.ToString(got.Language), got.CcEmailAddresses)
	}
	if comms := got.RecentCommunications; comms == nil || len(comms.Communications) == 0 || aws.ToString(comms.Communications[0].Body) != c.Body {
		t.Errorf("case body not stored as sent")
	}
}

// fakeSupport answers CreateCase exactly as AWS does for an account
// without a Business, Enterprise On-Ramp or Enterprise Support plan. It
// exists because moto has no support-plan check: moto creates cases for
// every account.
type fakeSupport struct {
	*httptest.Server
	mu       sync.Mutex
	requests []map[string]any
	targets  []string
}

func newFakeSupport(t *testing.T) *fakeSupport {
	f := &fakeSupport{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.targets = append(f.targets, r.Header.Get("X-Amz-Target"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Requestid", "6f1e6c1e-5a36-4c0e-9d39-000000000000")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"SubscriptionRequiredException","message":"AWS Premium Support Subscription is required to use this service."}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSupport) client() *support.Client {
	return support.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIAFAKEFAKEFAKEFAKE", "fake", ""),
		BaseEndpoint:     aws.String(f.URL),
		HTTPClient:       f.Client(),
		RetryMaxAttempts: 1,
	})
}

func TestSupportWithoutPlan(t *testing.T) {
	f := newFakeSupport(t)
	s := &Support{Client: f.client(), IssueType: "customer-service", ServiceCode: "customer-account", CategoryCode: "security", Language: "ja"}
	_, err := s.Open(context.Background(), testCase())
	if !errors.Is(err, ErrNoSupportPlan) {
		t.Fatalf("err = %v, want ErrNoSupportPlan", err)
	}
	if !strings.Contains(err.Error(), "SubscriptionRequiredException") {
		t.Errorf("err %q drops AWS's error", err)
	}
	if len(f.requests) != 1 || f.targets[0] != "AWSSupport_20130415.CreateCase" {
		t.Fatalf("fake got %d requests, targets %v", len(f.requests), f.targets)
	}
	req := f.requests[0]
	want := map[string]any{
		"subject": testCase().Subject, "communicationBody": testCase().Body, "severityCode": "high",
		"issueType": "customer-service", "serviceCode": "customer-account", "categoryCode": "security",
		"language": "ja", "ccEmailAddresses": []any{"security@example.com"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(req[k]); string(got) != mustJSON(v) {
			t.Errorf("request %s = %s, want %s", k, got, mustJSON(v))
		}
	}
}

func TestSupportDefaultsAndValidation(t *testing.T) {
	f := newFakeSupport(t)
	s := &Support{Client: f.client()}
	c := testCase()
	c.Severity = ""
	s.Open(context.Background(), c)
	if len(f.requests) != 1 {
		t.Fatalf("fake got %d requests", len(f.requests))
	}
	req := f.requests[0]
	for k, v := range map[string]string{"issueType": DefaultIssueType, "serviceCode": DefaultServiceCode, "categoryCode": DefaultCategoryCode, "language": DefaultLanguage} {
		if req[k] != v {
			t.Errorf("request %s = %v, want %s", k, req[k], v)
		}
	}
	if _, ok := req["severityCode"]; ok {
		t.Errorf("an empty severity was sent as %v", req["severityCode"])
	}
	for _, bad := range []Case{{Body: "b"}, {Subject: "s"}, {Subject: "s", Body: "b", Severity: "sev1"}} {
		if _, err := s.Open(context.Background(), bad); err == nil {
			t.Errorf("Open(%+v) succeeded", bad)
		}
	}
	if len(f.requests) != 1 {
		t.Errorf("invalid cases reached AWS")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// intake is an httptest server acting as a ticketing system's intake.
type intake struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []map[string]any
	auths  []string
	status int
	reply  string
}

func newIntake(t *testing.T, status int, reply string) *intake {
	in := &intake{status: status, reply: reply}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var post map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&post) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		in.mu.Lock()
		in.posts = append(in.posts, post)
		in.auths = append(in.auths, r.Header.Get("Authorization"))
		in.mu.Unlock()
		w.WriteHeader(in.status)
		io.WriteString(w, in.reply)
	}))
	t.Cleanup(in.Close)
	return in
}

func TestWebhookOpensTicket(t *testing.T) {
	for _, c := range []struct {
		name, reply, want string
		status            int
	}{
		{"jira", `{"id":"10042","key":"SEC-17","self":"https://jira.example.com/rest/api/2/issue/10042"}`, "SEC-17", http.StatusCreated},
		{"numeric id", `{"id":10042}`, "10042", http.StatusCreated},
		{"url only", `{"url":"https://tickets.example.com/t/99"}`, "https://tickets.example.com/t/99", http.StatusOK},
		{"no JSON", `accepted`, "202 Accepted", http.StatusAccepted},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newIntake(t, c.status, c.reply)
			w := &Webhook{URL: in.URL + "/intake", Token: "s3cr3t-token", Client: in.Client()}
			ref, err := w.Open(context.Background(), testCase())
			if err != nil {
				t.Fatal(err)
			}
			if ref != c.want {
				t.Errorf("ref = %q, want %q", ref, c.want)
			}
			if len(in.posts) != 1 || in.auths[0] != "Bearer s3cr3t-token" {
				t.Fatalf("intake got %d posts, auth %v", len(in.posts), in.auths)
			}
			want := map[string]any{"subject": testCase().Subject, "body": testCase().Body, "severity": "high", "cc": []any{"security@example.com"}}
			if mustJSON(in.posts[0]) != mustJSON(want) {
				t.Errorf("posted %s, want %s", mustJSON(in.posts[0]), mustJSON(want))
			}
		})
	}
}

func TestWebhookWithoutToken(t *testing.T) {
	in := newIntake(t, http.StatusCreated, `{"key":"SEC-1"}`)
	c := testCase()
	c.CC = nil
	if _, err := (&Webhook{URL: in.URL, Client: in.Client()}).Open(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if in.auths[0] != "" {
		t.Errorf("Authorization = %q without a token", in.auths[0])
	}
	if cc, ok := in.posts[0]["cc"].([]any); !ok || len(cc) != 0 {
		t.Errorf("cc = %v, want []", in.posts[0]["cc"])
	}
}

func TestWebhookRejected(t *testing.T) {
	in := newIntake(t, http.StatusUnauthorized, `{"error":"invalid token"}`+strings.Repeat(" pad", 500))
	_, err := (&Webhook{URL: in.URL, Token: "s3cr3t-token", Client: in.Client()}).Open(context.Background(), testCase())
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("err = %v, want the status and the body excerpt", err)
	}
	if len(err.Error()) > 400 || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error too long or reveals the token: %v", err)
	}
}

func TestChainFallsBackFromSupport(t *testing.T) {
	f := newFakeSupport(t)
	in := newIntake(t, http.StatusCreated, `{"key":"SEC-18"}`)
	chain := Chain{&Support{Client: f.client()}, &Webhook{URL: in.URL, Client: in.Client()}}
	ref, err := chain.Open(context.Background(), testCase())
	if err != nil {
		t.Fatal(err)
	}
	if ref != "SEC-18" || len(f.requests) != 1 || len(in.posts) != 1 {
		t.Errorf("ref %q after %d Support and %d intake requests", ref, len(f.requests), len(in.posts))
	}
	if name := chain.Name(); name != "chain(aws-support, webhook)" {
		t.Errorf("Name() = %q", name)
	}
}

func TestChainUsesFirstThatWorks(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	in := newIntake(t, http.StatusCreated, `{"key":"SEC-19"}`)
	chain := Chain{&Support{Client: support.NewFromConfig(acct.AdminConfig())}, &Webhook{URL: in.URL, Client: in.Client()}}
	ref, err := chain.Open(context.Background(), testCase())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, "case-") || len(in.posts) != 0 {
		t.Errorf("ref %q, %d intake posts; want the Support case and no post", ref, len(in.posts))
	}
}

func TestChainAllFail(t *testing.T) {
	f := newFakeSupport(t)
	in := newIntake(t, http.StatusInternalServerError, "database down")
	chain := Chain{&Support{Client: f.client()}, &Webhook{URL: in.URL, Client: in.Client()}}
	_, err := chain.Open(context.Background(), testCase())
	if err == nil {
		t.Fatal("chain succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"aws-support:", "SubscriptionRequiredException", "webhook:", "500 Internal Server Error", "database down"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if !errors.Is(err, ErrNoSupportPlan) {
		t.Errorf("error does not wrap ErrNoSupportPlan")
	}
	if _, err := (Chain{}).Open(context.Background(), testCase()); err == nil {
		t.Errorf("empty chain succeeded")
	}
}
