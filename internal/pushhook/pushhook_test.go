package pushhook

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSecret is GitHub's documented example secret.
const testSecret = "It's a Secret to Everybody"

var epoch = time.Date(2026, 11, 20, 9, 5, 0, 0, time.UTC)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newVerifier() (*Verifier, *fakeClock) {
	clk := &fakeClock{t: epoch}
	return &Verifier{
		Secret: []byte(testSecret),
		Replay: NewReplayCache(0, 0),
		Now:    clk.Now,
	}, clk
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// githubRequest builds a delivery the way GitHub sends it.
func githubRequest(body []byte, event, delivery string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/push", bytes.NewReader(body))
	r.Header.Set("User-Agent", "GitHub-Hookshot/8f3a1c2")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderEvent, event)
	r.Header.Set(HeaderDelivery, delivery)
	r.Header.Set("X-GitHub-Hook-ID", "512345678")
	r.Header.Set(HeaderSignature, Sign([]byte(testSecret), body))
	return r
}

// giteaRequest builds a delivery the way Gitea sends it, with only the
// Gitea signature header when githubSig is false.
func giteaRequest(body []byte, delivery string, githubSig bool) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/push", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderGiteaEvent, "push")
	r.Header.Set("X-Gitea-Event-Type", "push")
	r.Header.Set("X-Gogs-Event", "push")
	r.Header.Set(HeaderEvent, "push")
	r.Header.Set(HeaderGiteaDelivery, delivery)
	r.Header.Set(HeaderDelivery, delivery)
	sig := Sign([]byte(testSecret), body)
	r.Header.Set(HeaderGiteaSignature, strings.TrimPrefix(sig, "sha256="))
	if githubSig {
		r.Header.Set(HeaderSignature, sig)
	}
	return r
}

func TestSignMatchesGitHubTestVector(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := Sign([]byte(testSecret), []byte("Hello, World!")); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}

	// The vector passes the signature check; the body is then no push.
	v, _ := newVerifier()
	r := githubRequest([]byte("Hello, World!"), "push", "d1")
	r.Header.Set(HeaderSignature, want)
	_, err := v.Parse(r)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse(test vector) = %v, want ErrMalformed after a valid signature", err)
	}
	r = githubRequest([]byte("Hello, World!\n"), "push", "d2")
	r.Header.Set(HeaderSignature, want)
	if _, err := v.Parse(r); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Parse(vector + newline) = %v, want ErrBadSignature", err)
	}
}

func TestParseGitHubPush(t *testing.T) {
	v, _ := newVerifier()
	push, err := v.Parse(githubRequest(fixture(t, "github-push.json"), "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if StatusFor(err) != http.StatusAccepted {
		t.Fatalf("StatusFor(nil) = %d", StatusFor(err))
	}
	head := Commit{
		ID:        "3f2c9a1e8b7d4c6a5e0f1b2d3c4a5b6e7f8091a2",
		Message:   "Remove debug credentials\n\nThey should never have been committed.",
		URL:       "https://github.com/acme-corp/payments-api/commit/3f2c9a1e8b7d4c6a5e0f1b2d3c4a5b6e7f8091a2",
		Timestamp: "2026-11-20T09:04:40+01:00",
		Author:    "Jane Doe <jdoe@acme.example>",
		Added:     []string{},
		Modified:  []string{"internal/receipts/upload.go"},
		Removed:   []string{"config/aws.env"},
	}
	want := Push{
		Provider:   ProviderGitHub,
		DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		Ref:        "refs/heads/main",
		Before:     "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		After:      "3f2c9a1e8b7d4c6a5e0f1b2d3c4a5b6e7f8091a2",
		Compare:    "https://github.com/acme-corp/payments-api/compare/6113728f27ae...3f2c9a1e8b7d",
		Repository: Repository{
			FullName: "acme-corp/payments-api",
			CloneURL: "https://github.com/acme-corp/payments-api.git",
			HTMLURL:  "https://github.com/acme-corp/payments-api",
		},
		Pusher: "jdoe <jdoe@acme.example>",
		Commits: []Commit{{
			ID:        "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3",
			Message:   "Add S3 upload for receipts",
			URL:       "https://github.com/acme-corp/payments-api/commit/9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3",
			Timestamp: "2026-11-20T09:01:12+01:00",
			Author:    "Jane Doe <jdoe@acme.example>",
			Added:     []string{"internal/receipts/upload.go", "config/aws.env"},
			Modified:  []string{"go.mod", "go.sum"},
			Removed:   []string{},
		}, head},
		HeadCommit: &head,
		PushedAt:   time.Unix(1795076071, 0).UTC(),
		ReceivedAt: epoch,
	}
	if len(push.replayKeys) != 2 {
		t.Errorf("replay keys %v, want payload and delivery", push.replayKeys)
	}
	push.replayKeys = nil // bookkeeping for Forget, checked above
	if !reflect.DeepEqual(push, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", push, want)
	}
	if push.Branch() != "main" {
		t.Errorf("Branch() = %q", push.Branch())
	}
}

func TestPushJSONIsStable(t *testing.T) {
	v, _ := newVerifier()
	push, err := v.Parse(githubRequest(fixture(t, "github-push-delete-branch.json"), "push", "d-json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(push)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"provider":"github","delivery_id":"d-json","ref":"refs/heads/feature/receipts",` +
		`"before":"9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3","after":"0000000000000000000000000000000000000000",` +
		`"created":false,"deleted":true,"forced":false,` +
		`"compare":"https://github.com/acme-corp/payments-api/compare/9a8b7c6d5e4f...000000000000",` +
		`"repository":{"full_name":"acme-corp/payments-api","clone_url":"https://github.com/acme-corp/payments-api.git","html_url":"https://github.com/acme-corp/payments-api"},` +
		`"pusher":"jdoe \u003cjdoe@acme.example\u003e","commits":[],"pushed_at":"2026-11-19T09:19:50Z","received_at":"2026-11-20T09:05:00Z"}`
	if string(got) != want {
		t.Fatalf("JSON =\n%s\nwant\n%s", got, want)
	}
}

func TestParseGiteaPush(t *testing.T) {
	for _, githubSig := range []bool{false, true} {
		t.Run(fmt.Sprintf("githubSig=%v", githubSig), func(t *testing.T) {
			v, _ := newVerifier()
			push, err := v.Parse(giteaRequest(fixture(t, "gitea-push.json"), "8f0c3e4a-1d2b-4c5d-9e6f-7a8b9c0d1e2f", githubSig))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if push.Provider != ProviderGitea || push.DeliveryID != "8f0c3e4a-1d2b-4c5d-9e6f-7a8b9c0d1e2f" {
				t.Errorf("provider, delivery = %q, %q", push.Provider, push.DeliveryID)
			}
			if push.Created || push.Deleted || push.Forced {
				t.Errorf("created, deleted, forced = %v, %v, %v; want all false", push.Created, push.Deleted, push.Forced)
			}
			if want := "https://git.acme.example/ops/infra/compare/a1b2c3d4e5f60718293a4b5c6d7e8f9011223344...b2c3d4e5f60718293a4b5c6d7e8f901122334455"; push.Compare != want {
				t.Errorf("Compare = %q", push.Compare)
			}
			wantRepo := Repository{FullName: "ops/infra", CloneURL: "https://git.acme.example/ops/infra.git", HTMLURL: "https://git.acme.example/ops/infra"}
			if push.Repository != wantRepo {
				t.Errorf("Repository = %+v", push.Repository)
			}
			if !push.PushedAt.IsZero() {
				t.Errorf("PushedAt = %v, want zero (Gitea sends none)", push.PushedAt)
			}
			if push.Pusher != "max <max@acme.example>" {
				t.Errorf("Pusher = %q", push.Pusher)
			}
			if len(push.Commits) != 1 || push.HeadCommit == nil || !reflect.DeepEqual(push.Commits[0], *push.HeadCommit) {
				t.Fatalf("commits = %+v, head = %+v", push.Commits, push.HeadCommit)
			}
			c := push.Commits[0]
			if c.Author != "Max Mustermann <max@acme.example>" || c.Message != "terraform: add deploy user\n" ||
				!reflect.DeepEqual(c.Added, []string{"terraform/deploy_user.tf"}) ||
				!reflect.DeepEqual(c.Modified, []string{"terraform/main.tf"}) {
				t.Errorf("commit = %+v", c)
			}
		})
	}
}

func TestParseBranchCreationAndDeletion(t *testing.T) {
	giteaDeleted := bytes.Replace(fixture(t, "gitea-push.json"),
		[]byte(`"after": "b2c3d4e5f60718293a4b5c6d7e8f901122334455"`),
		[]byte(`"after": "0000000000000000000000000000000000000000"`), 1)
	if bytes.Equal(giteaDeleted, fixture(t, "gitea-push.json")) {
		t.Fatal("fixture edit did not apply")
	}
	tests := []struct {
		name             string
		req              *http.Request
		created, deleted bool
		commits          int
		head             bool
	}{
		{"github new branch", githubRequest(fixture(t, "github-push-new-branch.json"), "push", "n1"), true, false, 1, true},
		{"github deleted branch", githubRequest(fixture(t, "github-push-delete-branch.json"), "push", "n2"), false, true, 0, false},
		{"gitea new branch (derived)", giteaRequest(fixture(t, "gitea-push-new-branch.json"), "n3", false), true, false, 0, false},
		{"gitea deleted branch (derived)", giteaRequest(giteaDeleted, "n4", false), false, true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newVerifier()
			push, err := v.Parse(tt.req)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if push.Created != tt.created || push.Deleted != tt.deleted {
				t.Errorf("created, deleted = %v, %v; want %v, %v", push.Created, push.Deleted, tt.created, tt.deleted)
			}
			if len(push.Commits) != tt.commits || (push.HeadCommit != nil) != tt.head {
				t.Errorf("%d commits, head %v; want %d, %v", len(push.Commits), push.HeadCommit, tt.commits, tt.head)
			}
		})
	}
}

func TestParseRejectsForgedSignatures(t *testing.T) {
	body := fixture(t, "github-push.json")
	tampered := bytes.Replace(body, []byte(`"forced": false`), []byte(`"forced": true `), 1)
	tests := []struct {
		name string
		edit func(r *http.Request)
		body []byte
	}{
		{"wrong secret", func(r *http.Request) { r.Header.Set(HeaderSignature, Sign([]byte("guess"), body)) }, body},
		{"tampered body", nil, tampered},
		{"sha1 prefix", func(r *http.Request) {
			r.Header.Set(HeaderSignature, "sha1="+strings.TrimPrefix(Sign([]byte(testSecret), body), "sha256="))
		}, body},
		{"not hex", func(r *http.Request) { r.Header.Set(HeaderSignature, "sha256=zz") }, body},
		{"truncated", func(r *http.Request) { r.Header.Set(HeaderSignature, Sign([]byte(testSecret), body)[:40]) }, body},
		{"empty mac", func(r *http.Request) { r.Header.Set(HeaderSignature, "sha256=") }, body},
		{"wrong github header beside a right gitea header", func(r *http.Request) {
			r.Header.Set(HeaderGiteaSignature, strings.TrimPrefix(Sign([]byte(testSecret), body), "sha256="))
			r.Header.Set(HeaderSignature, Sign([]byte("guess"), body))
		}, body},
		{"wrong gitea header", func(r *http.Request) {
			r.Header.Del(HeaderSignature)
			r.Header.Set(HeaderGiteaSignature, hex.EncodeToString(make([]byte, 32)))
		}, body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newVerifier()
			r := githubRequest(body, "push", "f1")
			r.Body = io.NopCloser(bytes.NewReader(tt.body))
			if tt.edit != nil {
				tt.edit(r)
			}
			_, err := v.Parse(r)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Parse = %v, want ErrBadSignature", err)
			}
			if StatusFor(err) != http.StatusForbidden {
				t.Fatalf("StatusFor = %d, want 403", StatusFor(err))
			}
		})
	}
}

func TestParseRejectsUnsigned(t *testing.T) {
	body := fixture(t, "github-push.json")
	for _, legacy := range []bool{false, true} {
		v, _ := newVerifier()
		r := githubRequest(body, "push", "u1")
		r.Header.Del(HeaderSignature)
		if legacy {
			// Only the SHA-1 header: not accepted as a signature.
			r.Header.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")
		}
		_, err := v.Parse(r)
		if !errors.Is(err, ErrUnsigned) || StatusFor(err) != http.StatusUnauthorized {
			t.Fatalf("legacy=%v: Parse = %v (status %d), want ErrUnsigned/401", legacy, err, StatusFor(err))
		}
	}
}

func TestParseRejectsReplays(t *testing.T) {
	v, clk := newVerifier()
	push := fixture(t, "github-push.json")
	other := fixture(t, "github-push-new-branch.json")

	if _, err := v.Parse(githubRequest(push, "push", "id-1")); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	// Same delivery ID again (an exact replay).
	_, err := v.Parse(githubRequest(push, "push", "id-1"))
	if !errors.Is(err, ErrReplay) || StatusFor(err) != http.StatusConflict {
		t.Fatalf("replay = %v (status %d), want ErrReplay/409", err, StatusFor(err))
	}
	// The delivery header is unsigned: a fresh ID on the same body is a replay too.
	if _, err := v.Parse(githubRequest(push, "push", "id-2")); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay with a new delivery ID = %v, want ErrReplay", err)
	}
	// The same payload form-encoded, under a fresh ID.
	form := githubRequest([]byte("payload="+url.QueryEscape(string(push))), "push", "id-3")
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := v.Parse(form); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay form-encoded = %v, want ErrReplay", err)
	}
	// A different, validly signed body reusing a seen ID.
	if _, err := v.Parse(githubRequest(other, "push", "id-1")); !errors.Is(err, ErrReplay) {
		t.Fatalf("seen ID on a new body = %v, want ErrReplay", err)
	}
	// After the window the cache has forgotten both.
	clk.Advance(DefaultReplayWindow + time.Second)
	if _, err := v.Parse(githubRequest(push, "push", "id-1")); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestRejectedDeliveriesDoNotPoisonTheReplayCache(t *testing.T) {
	v, _ := newVerifier()
	body := fixture(t, "github-push.json")

	forged := githubRequest(body, "push", "id-x")
	forged.Header.Set(HeaderSignature, Sign([]byte("guess"), body))
	if _, err := v.Parse(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged = %v", err)
	}
	wrongType := githubRequest(body, "push", "id-x")
	wrongType.Header.Set("Content-Type", "text/plain")
	if _, err := v.Parse(wrongType); !errors.Is(err, ErrContentType) {
		t.Fatalf("wrong content type = %v", err)
	}
	if _, err := v.Parse(githubRequest(body, "push", "id-x")); err != nil {
		t.Fatalf("genuine delivery after rejected ones: %v", err)
	}
}

func TestParseWithoutReplayCacheAcceptsRepeats(t *testing.T) {
	v, _ := newVerifier()
	v.Replay = nil
	body := fixture(t, "github-push.json")
	for i := range 2 {
		if _, err := v.Parse(githubRequest(body, "push", "same")); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
}

// endless is a body that never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '{'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestParseRejectsOversizedBodies(t *testing.T) {
	body := fixture(t, "github-push.json")
	limit := int64(len(body))

	v, _ := newVerifier()
	v.MaxBody = limit
	if _, err := v.Parse(githubRequest(body, "push", "s0")); err != nil {
		t.Fatalf("body exactly at the cap: %v", err)
	}

	big := append(bytes.Clone(body), ' ')
	r := githubRequest(big, "push", "s1")
	_, err := v.Parse(r)
	if !errors.Is(err, ErrTooLarge) || StatusFor(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared oversize = %v (status %d), want ErrTooLarge/413", err, StatusFor(err))
	}

	// Chunked: no Content-Length, and a body that never ends.
	src := &endless{}
	r = githubRequest(nil, "push", "s2")
	r.ContentLength = -1
	r.Body = io.NopCloser(src)
	if _, err := v.Parse(r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless body = %v, want ErrTooLarge", err)
	}
	if src.n > limit+1+32*1024 {
		t.Errorf("read %d bytes of an endless body with a %d-byte cap", src.n, limit)
	}

	if got := (&Verifier{}).maxBody(); got != 25<<20 {
		t.Errorf("default MaxBody = %d, want 25 MiB", got)
	}
}

func TestParseFormEncoded(t *testing.T) {
	payload := fixture(t, "github-push.json")
	body := []byte("payload=" + url.QueryEscape(string(payload)))
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"} {
		v, _ := newVerifier()
		v.Replay = nil // the same payload is parsed twice below
		r := githubRequest(body, "push", "form-1")
		r.Header.Set("Content-Type", ct)
		got, err := v.Parse(r)
		if err != nil {
			t.Fatalf("%s: Parse: %v", ct, err)
		}
		want, err := v.Parse(githubRequest(payload, "push", "json-1"))
		if err != nil {
			t.Fatal(err)
		}
		want.DeliveryID = got.DeliveryID
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("form push =\n%+v\nwant the JSON push\n%+v", got, want)
		}
	}

	v, _ := newVerifier()
	noPayload := []byte("hook=1&zen=x")
	r := githubRequest(noPayload, "push", "form-2")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := v.Parse(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("form without payload = %v, want ErrMalformed", err)
	}
	badEscape := []byte("payload=%zz")
	r = githubRequest(badEscape, "push", "form-3")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := v.Parse(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad escape = %v, want ErrMalformed", err)
	}
}

func TestParseRejectsOtherContentTypes(t *testing.T) {
	body := fixture(t, "github-push.json")
	for _, ct := range []string{"", "text/plain", "multipart/form-data; boundary=x", "application/json; charset"} {
		v, _ := newVerifier()
		r := githubRequest(body, "push", "ct")
		r.Header.Set("Content-Type", ct)
		_, err := v.Parse(r)
		if !errors.Is(err, ErrContentType) || StatusFor(err) != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: Parse = %v (status %d), want ErrContentType/415", ct, err, StatusFor(err))
		}
	}
}

func TestParsePing(t *testing.T) {
	v, _ := newVerifier()
	body := fixture(t, "github-ping.json")
	_, err := v.Parse(githubRequest(body, "ping", "p1"))
	if !errors.Is(err, ErrPing) || StatusFor(err) != http.StatusOK {
		t.Fatalf("ping = %v (status %d), want ErrPing/200", err, StatusFor(err))
	}
	// A ping still has to be signed.
	r := githubRequest(body, "ping", "p2")
	r.Header.Set(HeaderSignature, Sign([]byte("guess"), body))
	if _, err := v.Parse(r); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged ping = %v, want ErrBadSignature", err)
	}
}

func TestParseRejectsOtherEvents(t *testing.T) {
	body := fixture(t, "github-push.json")
	for _, event := range []string{"issues", "secret_scanning_alert", ""} {
		v, _ := newVerifier()
		_, err := v.Parse(githubRequest(body, event, "e1"))
		if !errors.Is(err, ErrUnsupportedEvent) || StatusFor(err) != http.StatusBadRequest {
			t.Errorf("event %q: Parse = %v (status %d), want ErrUnsupportedEvent/400", event, err, StatusFor(err))
		}
	}
}

func TestParseRejectsMalformedPayloads(t *testing.T) {
	valid := string(fixture(t, "github-push.json"))
	tests := map[string]string{
		"empty":             "",
		"truncated":         valid[:len(valid)/2],
		"null":              "null",
		"array":             "[]",
		"string":            `"refs/heads/main"`,
		"no repository":     `{"ref":"refs/heads/main","before":"` + strings.Repeat("a", 40) + `","after":"` + strings.Repeat("b", 40) + `"}`,
		"short ref":         strings.Replace(valid, `"ref": "refs/heads/main"`, `"ref": "main"`, 1),
		"bad before":        strings.Replace(valid, `"before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"`, `"before": "6113728f"`, 1),
		"non-hex after":     strings.Replace(valid, `"after": "3f2c9a1e8b7d4c6a5e0f1b2d3c4a5b6e7f8091a2"`, `"after": "zf2c9a1e8b7d4c6a5e0f1b2d3c4a5b6e7f8091a2"`, 1),
		"both zero":         `{"ref":"refs/heads/x","before":"` + strings.Repeat("0", 40) + `","after":"` + strings.Repeat("0", 40) + `","repository":{"full_name":"a/b"}}`,
		"bad commit id":     strings.Replace(valid, `"id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3"`, `"id": "nope"`, 1),
		"commits an object": strings.Replace(valid, `"commits": [`, `"commits": {"x": [`, 1),
		"ref a number":      `{"ref": 98765432109876543210}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			v, _ := newVerifier()
			_, err := v.Parse(githubRequest([]byte(body), "push", "m-"+name))
			if !errors.Is(err, ErrMalformed) || StatusFor(err) != http.StatusBadRequest {
				t.Fatalf("Parse = %v (status %d), want ErrMalformed/400", err, StatusFor(err))
			}
		})
	}
	// Type errors do not echo the offending literal.
	v, _ := newVerifier()
	_, err := v.Parse(githubRequest([]byte(tests["ref a number"]), "push", "m-literal"))
	if strings.Contains(err.Error(), "98765432109876543210") {
		t.Errorf("error echoes the payload literal: %v", err)
	}
}

func TestPushedAt(t *testing.T) {
	base := `{"ref":"refs/heads/a","before":"` + strings.Repeat("a", 40) + `","after":"` + strings.Repeat("b", 40) + `","repository":{"full_name":"o/r","pushed_at":%s}}`
	tests := map[string]time.Time{
		`1795076071`:                  time.Unix(1795076071, 0).UTC(),
		`1795076071.0`:                time.Unix(1795076071, 0).UTC(),
		`"2026-11-20T09:04:40Z"`:      time.Date(2026, 11, 20, 9, 4, 40, 0, time.UTC),
		`"2026-11-20T10:04:40+01:00"`: time.Date(2026, 11, 20, 9, 4, 40, 0, time.UTC),
		`"yesterday"`:                 {},
		`-5`:                          {},
		`1e300`:                       {},
		`null`:                        {},
		`{}`:                          {},
	}
	for raw, want := range tests {
		v, _ := newVerifier()
		push, err := v.Parse(githubRequest([]byte(fmt.Sprintf(base, raw)), "push", "t"))
		if err != nil {
			t.Fatalf("pushed_at %s: %v", raw, err)
		}
		if !push.PushedAt.Equal(want) {
			t.Errorf("pushed_at %s: PushedAt = %v, want %v", raw, push.PushedAt, want)
		}
	}
}

func TestParseSHA256Repository(t *testing.T) {
	before, after := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	body := `{"ref":"refs/tags/v1","before":"` + before + `","after":"` + after + `","repository":{"full_name":"ops/infra"},` +
		`"commits":[{"id":"` + after + `","message":"m","author":{"name":"n","email":"e@x"}}],"head_commit":{"id":"` + after + `"}}`
	v, _ := newVerifier()
	push, err := v.Parse(githubRequest([]byte(body), "push", "sha256"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if push.After != after || push.HeadCommit == nil || push.Branch() != "" || push.Created || push.Deleted {
		t.Fatalf("push = %+v", push)
	}
}

func TestParseRejectsOtherMethods(t *testing.T) {
	v, _ := newVerifier()
	r := githubRequest(fixture(t, "github-push.json"), "push", "g1")
	r.Method = http.MethodGet
	_, err := v.Parse(r)
	if !errors.Is(err, ErrMethod) || StatusFor(err) != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %v (status %d), want ErrMethod/405", err, StatusFor(err))
	}
}

func TestParseWithoutSecretFails(t *testing.T) {
	v := &Verifier{}
	body := fixture(t, "github-push.json")
	r := githubRequest(body, "push", "n1")
	r.Header.Set(HeaderSignature, Sign(nil, body))
	_, err := v.Parse(r)
	if !errors.Is(err, ErrNoSecret) || StatusFor(err) != http.StatusInternalServerError {
		t.Fatalf("Parse without a secret = %v (status %d), want ErrNoSecret/500", err, StatusFor(err))
	}
}

func TestStatusForWrappedErrors(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 202},
		{ErrPing, 200},
		{fmt.Errorf("serve: %w", ErrUnsigned), 401},
		{fmt.Errorf("serve: %w", ErrBadSignature), 403},
		{fmt.Errorf("serve: %w", ErrReplay), 409},
		{fmt.Errorf("serve: %w", ErrTooLarge), 413},
		{fmt.Errorf("serve: %w", ErrContentType), 415},
		{fmt.Errorf("serve: %w", ErrMalformed), 400},
		{fmt.Errorf("serve: %w", ErrUnsupportedEvent), 400},
		{fmt.Errorf("serve: %w", ErrMethod), 405},
		{errors.New("disk full"), 500},
	}
	for _, tt := range tests {
		if got := StatusFor(tt.err); got != tt.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{
		"github-push.json", "github-push-new-branch.json", "github-push-delete-branch.json",
		"github-ping.json", "gitea-push.json", "gitea-push-new-branch.json",
	} {
		f.Add(fixture(f, name))
	}
	for _, seed := range []string{
		"", "null", "{}", "[]", "Hello, World!",
		`{"ref":"refs/heads/a","before":"` + strings.Repeat("0", 40) + `","after":"` + strings.Repeat("1", 64) + `","repository":{"full_name":"a/b"},"head_commit":null}`,
		`{"ref":"refs/heads/a","created":null,"commits":[null,{"author":null}],"pusher":[]}`,
		`{"ref":"refs/heads/a","before":"` + strings.Repeat("f", 40) + `","after":"` + strings.Repeat("e", 40) + `","repository":{"full_name":"\u0000"},"commits":[{"id":"` + strings.Repeat("A", 40) + `"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := &Verifier{Secret: []byte(testSecret), Replay: NewReplayCache(4, time.Hour), Now: func() time.Time { return epoch }}
		push, err := v.Parse(githubRequest(body, "push", "fuzz"))
		if err != nil {
			if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrUnsigned) {
				t.Fatalf("a correctly signed body failed the signature check: %v", err)
			}
			if s := StatusFor(err); s != http.StatusBadRequest {
				t.Fatalf("Parse = %v with status %d, want 400 for a signed push", err, s)
			}
			return
		}
		if !strings.HasPrefix(push.Ref, "refs/") || !isObjectID(push.Before) || !isObjectID(push.After) ||
			push.Repository.FullName == "" || push.Provider != ProviderGitHub || push.Commits == nil {
			t.Fatalf("accepted an invalid push: %+v", push)
		}
		if isZeroID(push.Before) && isZeroID(push.After) {
			t.Fatalf("accepted a push with two zero IDs: %+v", push)
		}
		if _, err := json.Marshal(push); err != nil {
			t.Fatalf("Marshal(push): %v", err)
		}
		// The same body again is a replay.
		if _, err := v.Parse(githubRequest(body, "push", "fuzz-2")); !errors.Is(err, ErrReplay) {
			t.Fatalf("second delivery = %v, want ErrReplay", err)
		}
	})
}
