package partner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// GitHub's documented sample request (protocols reference §1.1).
const (
	docsPayload = `[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]`
	docsSig     = "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg=="
	docsKeyID   = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
	docsKeys    = `{"public_keys":[
 {"key_identifier":"90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
  "key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----\n",
  "is_current":false},
 {"key_identifier":"bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
  "key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
  "is_current":true}]}`
)

var epoch = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

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

// keyServer serves a keys document that tests can replace, and counts
// fetches.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	status  int
	fetches atomic.Int32
	auth    atomic.Value // last Authorization header
}

func newKeyServer(t testing.TB, doc []byte) *keyServer {
	ks := &keyServer{doc: doc, status: http.StatusOK}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		ks.auth.Store(r.Header.Get("Authorization"))
		ks.mu.Lock()
		doc, status := ks.doc, ks.status
		ks.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(doc)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(doc []byte, status int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.doc, ks.status = doc, status
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keysDoc publishes several signers' keys in one document.
func keysDoc(t testing.TB, signers ...Signer) []byte {
	t.Helper()
	var d KeysDocument
	for _, s := range signers {
		one, err := s.KeysDocument()
		if err != nil {
			t.Fatal(err)
		}
		var od KeysDocument
		if err := json.Unmarshal(one, &od); err != nil {
			t.Fatal(err)
		}
		d.PublicKeys = append(d.PublicKeys, od.PublicKeys...)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func alertRequest(body []byte, keyID, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/partner/alerts", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if keyID != "" {
		r.Header.Set(HeaderKeyID, keyID)
	}
	if sig != "" {
		r.Header.Set(HeaderSignature, sig)
	}
	return r
}

func signedRequest(t testing.TB, s Signer, body []byte) *http.Request {
	t.Helper()
	sig, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	return alertRequest(body, s.KeyID, sig)
}

func newReceiver(url string, clk *fakeClock) *Receiver {
	return &Receiver{Keys: &KeySource{URL: url, Now: clk.Now}}
}

func TestGitHubTestVector(t *testing.T) {
	keys, err := ParseKeysDocument([]byte(docsKeys))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(docsSig)
	if err != nil {
		t.Fatal(err)
	}
	if len(docsPayload) != 104 {
		t.Fatalf("payload is %d bytes, the docs say 104", len(docsPayload))
	}
	if !Verify(keys[docsKeyID], []byte(docsPayload), sig) {
		t.Fatal("GitHub's sample signature does not verify")
	}
	if Verify(keys[docsKeyID], []byte(docsPayload+"\n"), sig) {
		t.Fatal("signature verifies over the payload plus a newline")
	}
	if Verify(keys["90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"], []byte(docsPayload), sig) {
		t.Fatal("signature verifies under the other key")
	}

	srv := newKeyServer(t, []byte(docsKeys))
	rc := newReceiver(srv.URL, &fakeClock{t: epoch})
	alerts, err := rc.Parse(alertRequest([]byte(docsPayload), docsKeyID, docsSig))
	if err != nil {
		t.Fatalf("Parse(GitHub sample) = %v", err)
	}
	want := []Alert{{Token: "some_token", Type: "some_type", URL: "https://example.com/base-repo-url/", Source: "commit"}}
	if !reflect.DeepEqual(alerts, want) {
		t.Fatalf("alerts = %#v, want %#v", alerts, want)
	}
	_, err = rc.Parse(alertRequest([]byte(docsPayload+"\n"), docsKeyID, docsSig))
	if !errors.Is(err, ErrBadSignature) || StatusFor(err) != http.StatusForbidden {
		t.Fatalf("Parse(sample + newline) = %v (status %d), want ErrBadSignature/403", err, StatusFor(err))
	}
}

func TestKeyRotationRefetchesOnce(t *testing.T) {
	oldS, newS := NewSigner(newKey(t)), NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, oldS))
	clk := &fakeClock{t: epoch}
	rc := newReceiver(srv.URL, clk)

	if _, err := rc.Parse(signedRequest(t, oldS, []byte(docsPayload))); err != nil {
		t.Fatalf("old key: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the first alert, want 1", n)
	}

	srv.set(keysDoc(t, oldS, newS), http.StatusOK)
	clk.Advance(DefaultRefetchInterval + time.Second)
	if _, err := rc.Parse(signedRequest(t, newS, []byte(docsPayload))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if _, err := rc.Parse(signedRequest(t, oldS, []byte(docsPayload))); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one refetch for the new identifier)", n)
	}
}

func TestRotationWithinRateLimitWaits(t *testing.T) {
	oldS, newS := NewSigner(newKey(t)), NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, oldS))
	clk := &fakeClock{t: epoch}
	rc := newReceiver(srv.URL, clk)
	if _, err := rc.Parse(signedRequest(t, oldS, []byte(docsPayload))); err != nil {
		t.Fatal(err)
	}
	srv.set(keysDoc(t, oldS, newS), http.StatusOK)
	clk.Advance(DefaultRefetchInterval / 2)
	if _, err := rc.Parse(signedRequest(t, newS, []byte(docsPayload))); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new key inside the rate limit = %v, want ErrUnknownKey", err)
	}
	clk.Advance(DefaultRefetchInterval / 2)
	if _, err := rc.Parse(signedRequest(t, newS, []byte(docsPayload))); err != nil {
		t.Fatalf("new key once the rate limit allows a refetch: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestForgedKeyIDsRefetchOnlyOnce(t *testing.T) {
	s := NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	clk := &fakeClock{t: epoch}
	rc := newReceiver(srv.URL, clk)
	if _, err := rc.Parse(signedRequest(t, s, []byte(docsPayload))); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	// A burst of forged identifiers, sequential then concurrent.
	forged := func(i int) *http.Request {
		r := signedRequest(t, s, []byte(docsPayload))
		r.Header.Set(HeaderKeyID, fmt.Sprintf("%064x", i))
		return r
	}
	for i := range 5 {
		_, err := rc.Parse(forged(i))
		if !errors.Is(err, ErrUnknownKey) || StatusFor(err) != http.StatusForbidden {
			t.Fatalf("forged id %d: %v (status %d), want ErrUnknownKey/403", i, err, StatusFor(err))
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rc.Parse(forged(100 + i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("concurrent forged id %d: %v", i, err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (initial + one refetch for all forged ids)", n)
	}
	// The genuine key still works, without fetching.
	if _, err := rc.Parse(signedRequest(t, s, []byte(docsPayload))); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a genuine alert, want still 2", n)
	}
}

func TestKeySourceConcurrentColdStartFetchesOnce(t *testing.T) {
	s := NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	ks := &KeySource{URL: srv.URL, Now: (&fakeClock{t: epoch}).Now}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ks.Key(context.Background(), s.KeyID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestKeySourceTTLAndStaleKeys(t *testing.T) {
	s := NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	clk := &fakeClock{t: epoch}
	ks := &KeySource{URL: srv.URL, Now: clk.Now, TTL: time.Hour, Token: "ghp_example"}
	ctx := context.Background()

	want := &s.Key.PublicKey
	for range 3 {
		got, err := ks.Key(ctx, s.KeyID)
		if err != nil || !got.Equal(want) {
			t.Fatalf("Key = %v, %v", got, err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the TTL, want 1", n)
	}
	if got := srv.auth.Load(); got != "Bearer ghp_example" {
		t.Fatalf("Authorization = %q", got)
	}

	// Expired, and the keys URL is failing: the cached key is still used.
	clk.Advance(time.Hour + time.Second)
	srv.set([]byte(`{"message":"Server Error"}`), http.StatusInternalServerError)
	if got, err := ks.Key(ctx, s.KeyID); err != nil || !got.Equal(want) {
		t.Fatalf("Key with a stale cache and a failing URL = %v, %v", got, err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the TTL, want 2", n)
	}
	// Expired and refetchable: the new document replaces the old one.
	other := NewSigner(newKey(t))
	srv.set(keysDoc(t, other), http.StatusOK)
	clk.Advance(DefaultRefetchInterval)
	if _, err := ks.Key(ctx, s.KeyID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key of a key removed from the document = %v, want ErrUnknownKey", err)
	}
	if _, err := ks.Key(ctx, other.KeyID); err != nil {
		t.Fatal(err)
	}
}

func TestKeySourceUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		doc    string
		status int
	}{
		"server error":     {`{"message":"Server Error"}`, http.StatusInternalServerError},
		"rate limited":     {`{"message":"API rate limit exceeded"}`, http.StatusForbidden},
		"not JSON":         {`<html>`, http.StatusOK},
		"no keys":          {`{"public_keys":[]}`, http.StatusOK},
		"garbage PEM":      {`{"public_keys":[{"key_identifier":"a","key":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}]}`, http.StatusOK},
		"no identifier":    {strings.Replace(docsKeys, `"key_identifier":`, `"kid":`, -1), http.StatusOK},
		"document too big": {`{"public_keys":[],"pad":"` + strings.Repeat("x", maxKeysDocument) + `"}`, http.StatusOK},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newKeyServer(t, []byte(tt.doc))
			srv.set([]byte(tt.doc), tt.status)
			ks := &KeySource{URL: srv.URL, Now: (&fakeClock{t: epoch}).Now}
			_, err := ks.Key(ctx, docsKeyID)
			if !errors.Is(err, ErrKeysUnavailable) || StatusFor(err) != http.StatusServiceUnavailable {
				t.Fatalf("Key = %v (status %d), want ErrKeysUnavailable/503", err, StatusFor(err))
			}
			// Rate-limited: no second fetch, same verdict.
			if _, err := ks.Key(ctx, docsKeyID); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("second Key = %v", err)
			}
			if n := srv.fetches.Load(); n != 1 {
				t.Fatalf("%d fetches, want 1", n)
			}
		})
	}
}

func TestParseKeysDocumentSkipsUnusableKeys(t *testing.T) {
	s := NewSigner(newKey(t))
	var d KeysDocument
	if err := json.Unmarshal(keysDoc(t, s), &d); err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d.PublicKeys = append(d.PublicKeys,
		PublicKey{KeyIdentifier: "p384", Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		PublicKey{KeyIdentifier: "empty"})
	doc, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeysDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[s.KeyID] == nil {
		t.Fatalf("keys = %v, want only the P-256 key", keys)
	}
}

func TestParseRejectsBadSignatures(t *testing.T) {
	s, mallory := NewSigner(newKey(t)), NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	body := []byte(docsPayload)
	otherSig, err := mallory.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	sigOfOtherBody, err := s.Sign([]byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]*http.Request{
		"signed by another key":     alertRequest(body, s.KeyID, otherSig),
		"signature of another body": alertRequest(body, s.KeyID, sigOfOtherBody),
		"not base64":                alertRequest(body, s.KeyID, "%%%"),
		"url-safe base64":           alertRequest(body, s.KeyID, strings.NewReplacer("+", "-", "/", "_").Replace(docsSig)),
		"not ASN.1":                 alertRequest(body, s.KeyID, base64.StdEncoding.EncodeToString([]byte("not a signature"))),
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(srv.URL, &fakeClock{t: epoch})
			_, err := rc.Parse(r)
			if !errors.Is(err, ErrBadSignature) || StatusFor(err) != http.StatusForbidden {
				t.Fatalf("Parse = %v (status %d), want ErrBadSignature/403", err, StatusFor(err))
			}
		})
	}
}

func TestParseRejectsUnsigned(t *testing.T) {
	srv := newKeyServer(t, []byte(docsKeys))
	for name, r := range map[string]*http.Request{
		"no headers":   alertRequest([]byte(docsPayload), "", ""),
		"no signature": alertRequest([]byte(docsPayload), docsKeyID, ""),
		"no key id":    alertRequest([]byte(docsPayload), "", docsSig),
	} {
		rc := newReceiver(srv.URL, &fakeClock{t: epoch})
		_, err := rc.Parse(r)
		if !errors.Is(err, ErrUnsigned) || StatusFor(err) != http.StatusUnauthorized {
			t.Errorf("%s: Parse = %v (status %d), want ErrUnsigned/401", name, err, StatusFor(err))
		}
	}
	if n := srv.fetches.Load(); n != 0 {
		t.Errorf("unsigned requests fetched keys %d times", n)
	}
}

type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '['
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestParseRejectsOversizedBodies(t *testing.T) {
	s := NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	rc := newReceiver(srv.URL, &fakeClock{t: epoch})
	rc.MaxBody = int64(len(docsPayload))

	if _, err := rc.Parse(signedRequest(t, s, []byte(docsPayload))); err != nil {
		t.Fatalf("body exactly at the cap: %v", err)
	}
	_, err := rc.Parse(signedRequest(t, s, []byte(docsPayload+" ")))
	if !errors.Is(err, ErrTooLarge) || StatusFor(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized = %v (status %d), want ErrTooLarge/413", err, StatusFor(err))
	}
	src := &endless{}
	r := signedRequest(t, s, nil)
	r.ContentLength = -1
	r.Body = io.NopCloser(src)
	if _, err := rc.Parse(r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless body = %v, want ErrTooLarge", err)
	}
	if src.n > rc.MaxBody+1+32*1024 {
		t.Errorf("read %d bytes of an endless body", src.n)
	}
	if got := (&Receiver{}).maxBody(); got != 10<<20 {
		t.Errorf("default MaxBody = %d, want 10 MiB", got)
	}
}

func TestParseRejectsMalformedAlerts(t *testing.T) {
	s := NewSigner(newKey(t))
	srv := newKeyServer(t, keysDoc(t, s))
	tests := map[string]string{
		"empty":         ``,
		"object":        `{"token":"some_token","type":"some_type"}`,
		"null":          `null`,
		"truncated":     docsPayload[:60],
		"number":        `[1]`,
		"no token":      `[{"type":"some_type","url":"","source":"commit"}]`,
		"numeric token": `[{"token":8427598236498723649,"type":"t"}]`,
		"trailing data": docsPayload + `]`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(srv.URL, &fakeClock{t: epoch})
			_, err := rc.Parse(signedRequest(t, s, []byte(body)))
			if !errors.Is(err, ErrMalformed) || StatusFor(err) != http.StatusBadRequest {
				t.Fatalf("Parse = %v (status %d), want ErrMalformed/400", err, StatusFor(err))
			}
			for _, secret := range []string{"some_token", "8427598236498723649"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error contains the token: %v", err)
				}
			}
		})
	}
	rc := newReceiver(srv.URL, &fakeClock{t: epoch})
	alerts, err := rc.Parse(signedRequest(t, s, []byte(` [] `)))
	if err != nil || alerts == nil || len(alerts) != 0 {
		t.Fatalf("empty batch = %v, %v; want an empty slice", alerts, err)
	}
}

func TestParseRejectsOtherMethods(t *testing.T) {
	srv := newKeyServer(t, []byte(docsKeys))
	rc := newReceiver(srv.URL, &fakeClock{t: epoch})
	r := alertRequest([]byte(docsPayload), docsKeyID, docsSig)
	r.Method = http.MethodGet
	_, err := rc.Parse(r)
	if !errors.Is(err, ErrMethod) || StatusFor(err) != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %v (status %d)", err, StatusFor(err))
	}
}

// partnerPair starts a keys endpoint and an alert endpoint (backed by a
// Receiver) and returns a Sender pointed at them plus what was received.
func partnerPair(t *testing.T, signer Signer) (*Sender, func() [][]Alert) {
	t.Helper()
	keys := httptest.NewServer(signer.KeysHandler())
	t.Cleanup(keys.Close)
	rc := &Receiver{Keys: &KeySource{URL: keys.URL, Client: keys.Client()}}
	var mu sync.Mutex
	var got [][]Alert
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alerts, err := rc.Parse(r)
		if err != nil {
			http.Error(w, err.Error(), StatusFor(err))
			return
		}
		mu.Lock()
		got = append(got, alerts)
		mu.Unlock()
		w.WriteHeader(StatusFor(nil))
	}))
	t.Cleanup(endpoint.Close)
	return &Sender{Endpoint: endpoint.URL, Signer: signer, Client: endpoint.Client()}, func() [][]Alert {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

func TestRoundTripSenderToReceiver(t *testing.T) {
	snd, received := partnerPair(t, NewSigner(newKey(t)))
	batch := []Alert{
		{Token: "lgtest-access-key-0001", Type: "aws_access_key_id", URL: "https://github.com/acme/app/blob/abc/.env", Source: "commit"},
		{Token: "lgtest/secret+with<html>&slashes==", Type: "aws_secret_access_key", URL: "", Source: "Gist_content"},
		{Token: "tøkén\u2028with\"quotes\\", Type: "leakguard_test", URL: "https://example.com/x?a=1&b=2", Source: "npm"},
	}
	if err := snd.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := snd.Send(context.Background(), nil); err != nil {
		t.Fatalf("Send(nil): %v", err)
	}
	got := received()
	if len(got) != 1 || !reflect.DeepEqual(got[0], batch) {
		t.Fatalf("received %#v, want one batch %#v", got, batch)
	}
}

func TestSendReportsRejectionWithoutTokens(t *testing.T) {
	// A partner that echoes the request body in its error answer.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, "rejected %s: %s", r.Header.Get(HeaderKeyID), body)
	}))
	defer echo.Close()
	snd := &Sender{Endpoint: echo.URL, Signer: NewSigner(newKey(t)), Client: echo.Client()}
	alerts := []Alert{{Token: "lgtest_partner_token_0123456789", Type: "github_pat", Source: "commit"}}
	err := snd.Send(context.Background(), alerts)
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("Send = %v, want an *HTTPError with 422", err)
	}
	if strings.Contains(err.Error(), "lgtest_partner") || !strings.Contains(err.Error(), "[token]") || !strings.Contains(err.Error(), "422") {
		t.Fatalf("error = %q, want the status and a redacted excerpt", err)
	}
}

func TestSendWithWrongKeyIsRejected(t *testing.T) {
	published := NewSigner(newKey(t))
	snd, received := partnerPair(t, published)
	impostor := NewSigner(newKey(t))
	impostor.KeyID = published.KeyID
	snd.Signer = impostor
	err := snd.Send(context.Background(), []Alert{{Token: "tok_secret_value", Type: "t"}})
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusForbidden {
		t.Fatalf("Send with the wrong key = %v, want 403", err)
	}
	if strings.Contains(err.Error(), "tok_secret_value") {
		t.Fatalf("error contains the token: %v", err)
	}
	if len(received()) != 0 {
		t.Fatal("the receiver accepted a forged batch")
	}
}

func TestExcerptRedactsTokens(t *testing.T) {
	tok := strings.Repeat("S", 40) + "ecret"
	alerts := []Alert{{Token: tok}, {Token: "abc123xyz"}}
	tests := map[string][]byte{
		// A token straddling the excerpt cut.
		"straddles cut": []byte(strings.Repeat(".", excerptLen-10) + tok + " tail"),
		// The raw read ended inside a token that redaction shifted left.
		"cut inside raw": []byte(strings.Repeat(tok, 4) + strings.Repeat(".", excerptLen-4*7-40) + tok[:30]),
		"short token":    []byte("error near abc123xyz, also abc12"),
		"control chars":  []byte("bad\x00\x1b[31m" + tok + "\xff"),
	}
	for name, raw := range tests {
		got := excerpt(raw, alerts)
		if len(got) > excerptLen {
			t.Errorf("%s: excerpt is %d bytes", name, len(got))
		}
		for _, frag := range []string{tok[:8], "abc1"} {
			if strings.Contains(got, frag) {
				t.Errorf("%s: excerpt %q contains token fragment %q", name, got, frag)
			}
		}
		for _, r := range got {
			if r < ' ' || r == 0x7f || r == '\uFFFD' {
				t.Errorf("%s: excerpt %q has unprintable %U", name, got, r)
			}
		}
	}
}

func TestLabels(t *testing.T) {
	a := Alert{Token: "some_token", Type: "some_type", URL: "https://example.com/base-repo-url/", Source: "commit"}
	const hash = "9a45520a1213f15016d2d768b5fb3d904492a44ee274b44d4de8803e00fb536a" // sha256sum of "some_token"
	tp, fp := LabelFor(a, true), LabelFor(a, false)
	if tp != (Label{TokenHash: hash, TokenType: "some_type", Label: "true_positive"}) {
		t.Fatalf("LabelFor(true) = %+v", tp)
	}
	if fp.Label != "false_positive" || fp.TokenHash != hash {
		t.Fatalf("LabelFor(false) = %+v", fp)
	}
	var buf bytes.Buffer
	if err := WriteLabels(&buf, []Label{tp, fp}); err != nil {
		t.Fatal(err)
	}
	want := `[{"token_hash":"` + hash + `","token_type":"some_type","label":"true_positive"},` +
		`{"token_hash":"` + hash + `","token_type":"some_type","label":"false_positive"}]` + "\n"
	if buf.String() != want {
		t.Fatalf("WriteLabels =\n%s\nwant\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "some_token") {
		t.Fatal("labels contain the token")
	}
	buf.Reset()
	if err := WriteLabels(&buf, nil); err != nil || buf.String() != "[]\n" {
		t.Fatalf("WriteLabels(nil) = %q, %v", buf.String(), err)
	}
	for _, bad := range []Label{
		{TokenHash: hash, TokenType: "t", Label: "True_Positive"},
		{TokenHash: hash, TokenType: "t", Label: ""},
		{TokenHash: strings.ToUpper(hash), TokenType: "t", Label: LabelTruePositive},
		{TokenHash: "some_token", TokenType: "t", Label: LabelTruePositive},
		{TokenHash: hash, Label: LabelTruePositive},
	} {
		buf.Reset()
		if err := WriteLabels(&buf, []Label{bad}); err == nil || buf.Len() != 0 {
			t.Errorf("WriteLabels(%+v) = %v, wrote %q; want an error and nothing written", bad, err, buf.String())
		}
	}
}

func TestAlertFormattingRedactsToken(t *testing.T) {
	a := Alert{Token: "some_token", Type: "some_type", Source: "commit"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("alert", "alert", a)
	for name, s := range map[string]string{
		"String": a.String(), "%v": fmt.Sprintf("%v", a), "%+v": fmt.Sprintf("%+v", a), "slog": buf.String(),
	} {
		if strings.Contains(s, "some_token") {
			t.Errorf("%s output contains the token: %s", name, s)
		}
		if !strings.Contains(s, "some_type") || !strings.Contains(s, a.TokenHash()) {
			t.Errorf("%s output lacks the type or token hash: %s", name, s)
		}
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fmt.Errorf("x: %w", ErrUnsigned), 401},
		{fmt.Errorf("x: %w", ErrBadSignature), 403},
		{fmt.Errorf("x: %w", ErrUnknownKey), 403},
		{fmt.Errorf("x: %w", ErrKeysUnavailable), 503},
		{fmt.Errorf("x: %w", ErrTooLarge), 413},
		{fmt.Errorf("x: %w", ErrMalformed), 400},
		{fmt.Errorf("x: %w", ErrMethod), 405},
		{errors.New("other"), 500},
	}
	for _, tt := range tests {
		if got := StatusFor(tt.err); got != tt.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func FuzzParseAlerts(f *testing.F) {
	for _, seed := range []string{
		docsPayload,
		`[]`, `null`, `{}`, `[null]`, `[{}]`, `[{"token":""}]`,
		`[{"token":"a","type":"b","url":"c","source":"d"},{"TOKEN":"x"}]`,
		`[{"token":"\u0000\ud800","type":1}]`,
		`[{"token":"t","extra":{"nested":[1,2,3]}}]`,
		` [ {"source":"Pull_request_comment","token":"lgtest_x","type":"github_pat","url":"https://github.com/a/b/pull/1#issuecomment-2"} ] `,
	} {
		f.Add([]byte(seed))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	s := NewSigner(key)
	srv := newKeyServer(f, keysDoc(f, s))
	rc := &Receiver{Keys: &KeySource{URL: srv.URL, Client: srv.Client(), Now: (&fakeClock{t: epoch}).Now}}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := rc.Parse(signedRequest(t, s, body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("signed body rejected with %v, want only ErrMalformed", err)
			}
			return
		}
		for i, a := range alerts {
			if a.Token == "" {
				t.Fatalf("alert %d has no token", i)
			}
		}
		// Re-encoding and re-parsing gives the same alerts.
		again, err := json.Marshal(alerts)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseAlerts(again)
		if err != nil || !reflect.DeepEqual(back, alerts) {
			t.Fatalf("round trip = %#v, %v; want %#v", back, err, alerts)
		}
	})
}

func TestSignerKeyIDAndSignature(t *testing.T) {
	s := NewSigner(newKey(t))
	doc, err := s.KeysDocument()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		PublicKeys []map[string]any `json:"public_keys"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.PublicKeys) != 1 || len(d.PublicKeys[0]) != 3 ||
		d.PublicKeys[0]["key_identifier"] != s.KeyID || d.PublicKeys[0]["is_current"] != true {
		t.Fatalf("keys document = %s", doc)
	}
	block, _ := pem.Decode([]byte(d.PublicKeys[0]["key"].(string)))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("key is not a PUBLIC KEY PEM block: %s", doc)
	}
	sum := sha256.Sum256(block.Bytes)
	if s.KeyID != hex.EncodeToString(sum[:]) {
		t.Fatalf("KeyID %s is not the SHA-256 of the DER public key", s.KeyID)
	}

	sigB64, err := s.Sign([]byte(docsPayload))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		t.Fatalf("signature is not std base64: %v", err)
	}
	if !Verify(&s.Key.PublicKey, []byte(docsPayload), sig) || Verify(&s.Key.PublicKey, []byte(docsPayload+"\n"), sig) {
		t.Fatal("Sign does not produce a signature over exactly the body")
	}
	if _, err := NewSigner(nil).Sign(nil); err == nil {
		t.Fatal("Sign without a key succeeded")
	}
	if _, err := (Signer{}).KeysDocument(); err == nil {
		t.Fatal("KeysDocument without a key succeeded")
	}
}

func TestKeysHandler(t *testing.T) {
	s := NewSigner(newKey(t))
	h := s.KeysHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/keys", nil))
	want, _ := s.KeysDocument()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("GET = %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/keys", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", rec.Code)
	}
}
