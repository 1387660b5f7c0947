package dashboard_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/dashboard"
	"github.com/leakguard/leakguard/internal/incident"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-test-session-key")

// fakeClock is the injected clock; tests move it by hand.
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

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a dashboard under test with its fixtures.
type env struct {
	t     *testing.T
	src   *memSource
	h     http.Handler
	clock *fakeClock
	logs  *lockedBuffer
}

func newEnv(t *testing.T, mutate ...func(*dashboard.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{t: pushTime.Add(time.Hour)}, logs: &lockedBuffer{}}
	e.src = newMemSource(e.clock.Now, awsIncident(), githubIncident(), partnerIncident())
	cfg := dashboard.Config{
		Source:     e.src,
		Users:      map[string]string{testUser: testPassword, "bob": "another long password"},
		SessionKey: testKey,
		Now:        e.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Title:      "LeakGuard test",
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := dashboard.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.h = h
	return e
}

// do serves one request; a non-nil form makes it a form POST.
func (e *env) do(method, target string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	resp := rec.Result()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfToken returns the first CSRF token in a page.
func csrfToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

// cookieNamed returns the response's cookie whose name ends with suffix.
func cookieNamed(resp *http.Response, suffix string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, suffix) {
			return c
		}
	}
	return nil
}

// loginForm fetches the login form: its cookie and its token.
func (e *env) loginForm() (*http.Cookie, string) {
	e.t.Helper()
	resp, page := e.do("GET", "/login", nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /login: %d", resp.StatusCode)
	}
	c := cookieNamed(resp, "leakguard_login")
	if c == nil {
		e.t.Fatal("GET /login set no login cookie")
	}
	return c, csrfToken(e.t, page)
}

// login signs in and returns the session cookie.
func (e *env) login(user, password string) *http.Cookie {
	e.t.Helper()
	lc, token := e.loginForm()
	resp, page := e.do("POST", "/login", url.Values{"csrf": {token}, "username": {user}, "password": {password}, "next": {"/"}}, lc)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("POST /login: %d\n%s", resp.StatusCode, page)
	}
	c := cookieNamed(resp, "leakguard_session")
	if c == nil {
		e.t.Fatal("POST /login set no session cookie")
	}
	return c
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := func() dashboard.Config {
		return dashboard.Config{Source: newMemSource(time.Now), Users: map[string]string{"a": "b"}, SessionKey: testKey}
	}
	for name, mutate := range map[string]func(*dashboard.Config){
		"no source":      func(c *dashboard.Config) { c.Source = nil },
		"no users":       func(c *dashboard.Config) { c.Users = nil },
		"empty password": func(c *dashboard.Config) { c.Users = map[string]string{"a": ""} },
		"empty username": func(c *dashboard.Config) { c.Users = map[string]string{"": "b"} },
		"short key":      func(c *dashboard.Config) { c.SessionKey = testKey[:31] },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good()
			mutate(&cfg)
			if _, err := dashboard.New(cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
	if _, err := dashboard.New(good()); err != nil {
		t.Errorf("New(good config): %v", err)
	}
}

func TestLoginRequired(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"/", "/?state=open", "/incidents/" + awsID, "/no/such/page"} {
		resp, _ := e.do("GET", target, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s: status %d, want 303", target, resp.StatusCode)
			continue
		}
		want := "/login?" + url.Values{"next": {target}}.Encode()
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("GET %s: Location %q, want %q", target, got, want)
		}
	}
	for _, target := range []string{"/api/incidents", "/api/incidents/" + awsID, "/api/stats", "/api/nope"} {
		resp, body := e.do("GET", target, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s: status %d, want 401", target, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil || got["error"] == "" {
			t.Errorf("GET %s: body %q is not a JSON error (%v)", target, body, err)
		}
	}
	// A POST without a session changes nothing.
	resp, _ := e.do("POST", "/incidents/"+awsID+"/resolve", url.Values{"csrf": {"x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("POST resolve without session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if calls := e.src.resolveCalls(); len(calls) != 0 {
		t.Errorf("Resolve called without a session: %v", calls)
	}
	if _, ok := e.src.lastFilter(); ok {
		t.Error("List called without a session")
	}
	// The stylesheet is public: the login page needs it.
	if resp, body := e.do("GET", "/static/style.css", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "svg.timeline") {
		t.Errorf("GET /static/style.css: %d", resp.StatusCode)
	}
}

func TestLoginSetsSessionCookie(t *testing.T) {
	e := newEnv(t)
	lc, token := e.loginForm()
	if !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode || lc.Path != "/" {
		t.Errorf("login cookie attributes: %+v", lc)
	}
	resp, _ := e.do("POST", "/login", url.Values{"csrf": {token}, "username": {testUser}, "password": {testPassword}, "next": {"/incidents/" + awsID}}, lc)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents/"+awsID {
		t.Fatalf("POST /login: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := cookieNamed(resp, "leakguard_session")
	if c == nil {
		t.Fatal("no session cookie")
	}
	if c.Name != "leakguard_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
		c.MaxAge != 12*60*60 || c.Secure {
		t.Errorf("session cookie attributes: %+v", c)
	}
	if resp, _ := e.do("GET", "/", nil, c); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / with the session: %d", resp.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "signed in") {
		t.Errorf("sign-in not logged:\n%s", e.logs)
	}
	// Signed in, the login form sends the user on.
	if resp, _ := e.do("GET", "/login?next=/api/stats", nil, c); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/api/stats" {
		t.Errorf("GET /login signed in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(c *dashboard.Config) { c.Secure = true })
	c := e.login(testUser, testPassword)
	if c.Name != "__Host-leakguard_session" || !c.Secure {
		t.Errorf("session cookie: %+v", c)
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t)
	for next, want := range map[string]string{
		"/incidents/x?y=1":       "/incidents/x?y=1",
		"//evil.example/":        "/",
		"https://evil.example/":  "/",
		"/\\evil.example":        "/",
		"javascript:alert(1)":    "/",
		"":                       "/",
		"/%0d%0aSet-Cookie:x=1":  "/%0d%0aSet-Cookie:x=1",
		"/\r\nSet-Cookie: x=1":   "/",
		"evil.example/incidents": "/",
	} {
		lc, token := e.loginForm()
		resp, _ := e.do("POST", "/login", url.Values{"csrf": {token}, "username": {testUser}, "password": {testPassword}, "next": {next}}, lc)
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("next=%q: Location %q, want %q", next, got, want)
		}
	}
}

func TestLoginRejectsWrongPassword(t *testing.T) {
	e := newEnv(t)
	var bodies []string
	for _, tc := range []struct{ user, password string }{
		{testUser, "wrong"},
		{testUser, testPassword + " "},
		{testUser, ""},
		{"mallory", testPassword},
		{"ALICE", testPassword},
	} {
		lc, token := e.loginForm()
		resp, page := e.do("POST", "/login", url.Values{"csrf": {token}, "username": {tc.user}, "password": {tc.password}}, lc)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%q/%q: status %d, want 401", tc.user, tc.password, resp.StatusCode)
		}
		if c := cookieNamed(resp, "leakguard_session"); c != nil {
			t.Errorf("%q/%q: session cookie set", tc.user, tc.password)
		}
		if !strings.Contains(page, "Wrong username or password.") {
			t.Errorf("%q/%q: no error message", tc.user, tc.password)
		}
		bodies = append(bodies, csrfRE.ReplaceAllString(strings.ReplaceAll(page, tc.user, ""), ""))
	}
	// A wrong password and an unknown user look the same.
	if bodies[0] != bodies[3] {
		t.Error("the page for an unknown user differs from the one for a wrong password")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "sign-in failed") || strings.Contains(logs, "mallory") {
		t.Errorf("failed sign-ins should be logged, unknown usernames not:\n%s", logs)
	}
}

func TestLoginRequiresCSRF(t *testing.T) {
	e := newEnv(t)
	lc, token := e.loginForm()
	otherCookie, otherToken := e.loginForm()
	for name, tc := range map[string]struct {
		form   url.Values
		cookie *http.Cookie
	}{
		"no token":          {url.Values{}, lc},
		"no cookie":         {url.Values{"csrf": {token}}, nil},
		"token of another":  {url.Values{"csrf": {otherToken}}, lc},
		"cookie of another": {url.Values{"csrf": {token}}, otherCookie},
		"forged token":      {url.Values{"csrf": {base64.RawURLEncoding.EncodeToString(make([]byte, 32))}}, lc},
		"not base64":        {url.Values{"csrf": {"!!"}}, lc},
		"cookie as token":   {url.Values{"csrf": {lc.Value}}, lc},
		"made-up pair":      {url.Values{"csrf": {"x"}}, &http.Cookie{Name: "leakguard_login", Value: "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			tc.form.Set("username", testUser)
			tc.form.Set("password", testPassword)
			resp, _ := e.do("POST", "/login", tc.form, tc.cookie)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
			if c := cookieNamed(resp, "leakguard_session"); c != nil {
				t.Error("session cookie set")
			}
		})
	}
}

func TestTamperedCookieRejected(t *testing.T) {
	e := newEnv(t)
	good := e.login(testUser, testPassword)
	body, sig, ok := strings.Cut(good.Value, ".")
	if !ok {
		t.Fatalf("session cookie %q has no signature", good.Value)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("session cookie body: %v", err)
	}
	// The same payload naming another user, and one that never expires,
	// keeping the original signature.
	asBob := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"alice"`), []byte(`"bob"`), 1))
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatalf("session payload: %v", err)
	}
	payload["e"] = float64(4102444800)
	forever, _ := json.Marshal(payload)
	flipped := []byte(sig)
	flipped[3] ^= 1

	// A validly signed cookie under another key.
	other := newEnv(t, func(c *dashboard.Config) { c.SessionKey = bytes.Repeat([]byte{7}, 32) })
	foreign := other.login(testUser, testPassword)

	for name, value := range map[string]string{
		"other user":      asBob + "." + sig,
		"later expiry":    base64.RawURLEncoding.EncodeToString(forever) + "." + sig,
		"flipped sig bit": body + "." + string(flipped),
		"no signature":    body,
		"empty signature": body + ".",
		"garbage":         "not-a-session",
		"other key":       foreign.Value,
	} {
		t.Run(name, func(t *testing.T) {
			c := &http.Cookie{Name: good.Name, Value: value}
			if resp, _ := e.do("GET", "/", nil, c); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("GET /: status %d, want 303 to the login", resp.StatusCode)
			}
			if resp, _ := e.do("GET", "/api/stats", nil, c); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/stats: status %d, want 401", resp.StatusCode)
			}
		})
	}
	if resp, _ := e.do("GET", "/", nil, good); resp.StatusCode != http.StatusOK {
		t.Errorf("the untampered cookie: %d", resp.StatusCode)
	}
}

func TestExpiredCookieRejected(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	e.clock.Advance(12*time.Hour - time.Second)
	if resp, _ := e.do("GET", "/api/stats", nil, c); resp.StatusCode != http.StatusOK {
		t.Fatalf("a second before expiry: %d", resp.StatusCode)
	}
	e.clock.Advance(time.Second)
	if resp, _ := e.do("GET", "/api/stats", nil, c); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("at expiry: %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/", nil, c); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("at expiry: %d, want 303", resp.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "session expired") {
		t.Errorf("expiry not logged:\n%s", e.logs)
	}
}

func TestRemovedUserLosesSession(t *testing.T) {
	e := newEnv(t)
	c := e.login("bob", "another long password")
	// The server restarts with the same key but without bob.
	after := newEnv(t, func(cfg *dashboard.Config) { delete(cfg.Users, "bob") })
	if resp, _ := after.do("GET", "/api/stats", nil, c); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("removed user: %d, want 401", resp.StatusCode)
	}
}

func TestResolveRequiresCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	_, page := e.do("GET", "/incidents/"+awsID, nil, c)
	token := csrfToken(t, page)
	bobToken := csrfToken(t, func() string { _, p := e.do("GET", "/", nil, e.login("bob", "another long password")); return p }())
	// A second sign-in by the same user is another session, with another token.
	_, again := e.do("GET", "/", nil, e.login(testUser, testPassword))
	otherSessionToken := csrfToken(t, again)

	target := "/incidents/" + awsID + "/resolve"
	for name, form := range map[string]url.Values{
		"no token":            {},
		"empty token":         {"csrf": {""}},
		"wrong token":         {"csrf": {token + "x"}},
		"another user's":      {"csrf": {bobToken}},
		"another session's":   {"csrf": {otherSessionToken}},
		"the cookie as token": {"csrf": {c.Value}},
	} {
		resp, _ := e.do("POST", target, form, c)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	if calls := e.src.resolveCalls(); len(calls) != 0 {
		t.Fatalf("Resolve called without a valid token: %v", calls)
	}

	// A cross-site POST is refused even with the token.
	req := httptest.NewRequest("POST", target, strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || len(e.src.resolveCalls()) != 0 {
		t.Errorf("cross-site POST: %d, calls %v", rec.Code, e.src.resolveCalls())
	}

	resp, _ := e.do("POST", target, url.Values{"csrf": {token}}, c)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents/"+awsID {
		t.Fatalf("resolve: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if calls := e.src.resolveCalls(); !slices.Equal(calls, []resolveCall{{ID: awsID, Actor: testUser}}) {
		t.Errorf("Resolve calls: %v", calls)
	}
	_, page = e.do("GET", "/incidents/"+awsID, nil, c)
	if !strings.Contains(page, `<span class="badge state-resolved">resolved</span>`) || strings.Contains(page, "Mark resolved") {
		t.Error("the incident page after resolution shows no resolved state, or still offers to resolve")
	}
	if resp, _ := e.do("POST", "/incidents/nope/resolve", url.Values{"csrf": {token}}, c); resp.StatusCode != http.StatusNotFound {
		t.Errorf("resolve unknown: %d, want 404", resp.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	_, page := e.do("GET", "/", nil, c)
	token := csrfToken(t, page)
	if resp, _ := e.do("POST", "/logout", url.Values{}, c); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without token: %d, want 403", resp.StatusCode)
	}
	resp, _ := e.do("POST", "/logout", url.Values{"csrf": {token}}, c)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cleared := cookieNamed(resp, "leakguard_session")
	if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("logout does not delete the cookie: %+v", cleared)
	}
}

func TestFiltersPassedToSource(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	for _, tc := range []struct {
		target string
		want   incident.Filter
	}{
		{"/", incident.Filter{}},
		{"/?state=open&repo=acme%2Fwebsite&q=stripe", incident.Filter{State: incident.Open, Repository: "acme/website", Query: "stripe"}},
		{"/?state=&repo=+acme%2Finfra+&q=", incident.Filter{Repository: "acme/infra"}},
		{"/api/incidents?state=contained&q=AKIA4G&limit=5", incident.Filter{State: incident.Contained, Query: "AKIA4G", Limit: 5}},
	} {
		if resp, _ := e.do("GET", tc.target, nil, c); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", tc.target, resp.StatusCode)
			continue
		}
		if got, _ := e.src.lastFilter(); got != tc.want {
			t.Errorf("GET %s: filter %+v, want %+v", tc.target, got, tc.want)
		}
	}

	// The form shows the filter it applied and only the matching rows.
	_, page := e.do("GET", "/?state=open&repo=acme%2Fwebsite", nil, c)
	for _, want := range []string{`<option value="open" selected>open</option>`, `name="repo" value="acme/website"`, "Stripe secret key"} {
		if !strings.Contains(page, want) {
			t.Errorf("filtered page lacks %q", want)
		}
	}
	if strings.Contains(page, "AWS access key") {
		t.Error("filtered page lists the AWS incident")
	}

	n := len(e.src.filters)
	for _, target := range []string{"/?state=bogus", "/api/incidents?state=bogus", "/api/incidents?limit=0", "/api/incidents?limit=x",
		"/?q=" + strings.Repeat("a", 257)} {
		resp, _ := e.do("GET", target, nil, c)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", target, resp.StatusCode)
		}
	}
	if len(e.src.filters) != n {
		t.Error("List called with an invalid filter")
	}
}

func TestListPage(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	resp, page := e.do("GET", "/", nil, c)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`<span class="value">1</span><span class="label">open incidents</span>`,
		`<span class="value">0.90 s</span><span class="label">median push → contained</span><span class="sub">p95 1.40 s</span>`,
		`<span class="sub">p95 2.30 s</span>`,
		`<span class="value">2</span><span class="label">dead jobs</span>`,
		`<span class="badge state-contained">contained</span>`,
		`<a href="/incidents/inc-20260314-0007">AWS access key</a>`,
		`<td class="mono">q3Vd*****</td>`,
		`<td class="mono">` + fixtureKey + `</td>`,
		`<td class="mono">` + fixtureAcct + `</td>`,
		`<td class="repo">acme/payments-api</td>`,
		`2026-03-14 09:26:53.520Z`,         // detected
		`<td class="num mono">0.90 s</td>`, // push to contained
		`<span class="badge state-open">open</span>`,
		`<span class="badge state-resolved">resolved</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("list page lacks %q", want)
		}
	}
	// Newest first.
	if strings.Index(page, awsID) > strings.Index(page, "inc-20260314-0002") {
		t.Error("list is not newest first")
	}
}

func TestIncidentPage(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	resp, page := e.do("GET", "/incidents/"+awsID, nil, c)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET incident: %d", resp.StatusCode)
	}
	// html/template writes "+" as "&#43;"; compare the text.
	page = html.UnescapeString(page)
	for _, want := range []string{
		"lg1:5d41402abc4b2a76b9719d911017c592",
		"arn:aws:iam::838658887255:user/ci-deploy",
		`title="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"><a href="https://github.com/acme/payments-api/blob/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b/deploy/staging.env#L12" rel="noopener noreferrer">9f86d08</a>`,
		"deploy/staging.env:12",
		`<svg class="timeline"`,
		`data-kind="pushed"`, ">pushed +0.00 s</text>",
		">detected +0.40 s</text>", ">contained +0.90 s</text>", ">notified +1.60 s</text>",
		">first attacker call +13.0 s</text>",
		`data-kind="aws-quarantine"`, ">AWS quarantine +67 s</text>", ">AWS email ≈+116 s</text>",
		`<td class="num mono">+0.90 s</td>`,
		`<strong>3</strong> calls with the key by others`, "1 allowed", "2 denied", "0 failed",
		`<span class="mono">198.51.100.7</span>`,
		`<tr class="self">`, "LeakGuard check",
		`denied (AccessDenied)`,
		`<button type="submit">Mark resolved</button>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<tr class="attacker">`); n != 3 {
		t.Errorf("%d attacker rows, want 3", n)
	}

	// Without a push the offsets count from the reception; a non-AWS
	// secret gets no AWS reference marks.
	_, page = e.do("GET", "/incidents/inc-20260314-0002", nil, c)
	page = html.UnescapeString(page)
	for _, want := range []string{">received +0.00 s</text>", ">notified +0.90 s</text>", "Seconds from reception"} {
		if !strings.Contains(page, want) {
			t.Errorf("partner incident page lacks %q", want)
		}
	}
	if strings.Contains(page, "aws-quarantine") {
		t.Error("a Stripe key's timeline has AWS's reference marks")
	}
	// A resolution days later is named, not drawn off the scale.
	_, page = e.do("GET", "/incidents/inc-20260313-0003", nil, c)
	page = html.UnescapeString(page)
	if !strings.Contains(page, "Later, off the scale: resolved +10800 s.") || strings.Contains(page, `data-kind="resolved"`) {
		t.Error("the late resolution is not listed as off the scale")
	}
}

func TestAPIShapes(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	get := func(target string, v any) {
		t.Helper()
		resp, body := e.do("GET", target, nil, c)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v\n%s", target, err, body)
		}
	}

	var list struct {
		Incidents []map[string]any `json:"incidents"`
		Count     int              `json:"count"`
		Limit     int              `json:"limit"`
	}
	get("/api/incidents", &list)
	if list.Count != 3 || len(list.Incidents) != 3 || list.Limit != 100 {
		t.Fatalf("list: count %d, %d incidents, limit %d", list.Count, len(list.Incidents), list.Limit)
	}
	first := list.Incidents[0]
	for key, want := range map[string]any{
		"id": awsID, "state": "contained", "title": "AWS access key", "redacted": "q3Vd*****",
		"key_id": fixtureKey, "account": fixtureAcct, "repository": "acme/payments-api",
		"detected": "2026-03-14T09:26:53.52Z",
	} {
		if first[key] != want {
			t.Errorf("list[0].%s = %v, want %v", key, first[key], want)
		}
	}
	if sec, _ := first["contained_seconds"].(float64); math.Abs(sec-0.9) > 1e-9 {
		t.Errorf("contained_seconds = %v", first["contained_seconds"])
	}
	if sec, _ := first["notified_seconds"].(float64); math.Abs(sec-1.6) > 1e-9 {
		t.Errorf("notified_seconds = %v", first["notified_seconds"])
	}
	if v, ok := list.Incidents[2]["contained_seconds"]; !ok || v != nil {
		t.Errorf("an uncontained incident's contained_seconds = %v (present %v), want null", v, ok)
	}

	var inc map[string]any
	get("/api/incidents/"+awsID, &inc)
	for _, key := range []string{"id", "fingerprint", "rule_id", "title", "redacted", "key_id", "account", "principal",
		"state", "source", "created", "updated", "locations", "events", "seconds", "activity", "activity_summary"} {
		if _, ok := inc[key]; !ok {
			t.Errorf("incident JSON lacks %q", key)
		}
	}
	for key := range inc {
		if key != strings.ToLower(key) {
			t.Errorf("incident JSON key %q is not snake case", key)
		}
	}
	var detail struct {
		Locations []incident.Location `json:"locations"`
		Events    []incident.Event    `json:"events"`
		Seconds   map[string]float64  `json:"seconds"`
		Activity  []struct {
			SourceIP  string `json:"source_ip"`
			ErrorCode string `json:"error_code"`
		} `json:"activity"`
		Summary struct {
			Calls, Denied, Allowed int
			SourceIPs              []string `json:"source_ips"`
		} `json:"activity_summary"`
	}
	get("/api/incidents/"+awsID, &detail)
	if len(detail.Locations) != 1 || detail.Locations[0].Line != 12 || len(detail.Events) != 7 || len(detail.Activity) != 4 {
		t.Errorf("detail: %d locations, %d events, %d activity", len(detail.Locations), len(detail.Events), len(detail.Activity))
	}
	if math.Abs(detail.Seconds["contained"]-0.9) > 1e-9 || math.Abs(detail.Seconds["first_attacker_call"]-13) > 1e-9 {
		t.Errorf("seconds: %v", detail.Seconds)
	}
	if s := detail.Summary; s.Calls != 3 || s.Denied != 2 || s.Allowed != 1 || !slices.Equal(s.SourceIPs, []string{attackerIP}) {
		t.Errorf("activity summary: %+v", s)
	}

	var stats incident.Stats
	get("/api/stats", &stats)
	if stats != e.src.stats {
		t.Errorf("stats %+v, want %+v", stats, e.src.stats)
	}

	// An incident with no locations, events or activity has empty lists,
	// not nulls.
	e.src.incs = append(e.src.incs, incident.Incident{ID: "bare", State: incident.Open})
	resp, body := e.do("GET", "/api/incidents/bare", nil, c)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"locations":[]`) || !strings.Contains(body, `"events":[]`) || !strings.Contains(body, `"activity":[]`) {
		t.Errorf("bare incident: %d %s", resp.StatusCode, body)
	}
}

func TestUnknownIncident(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	resp, page := e.do("GET", "/incidents/inc-does-not-exist", nil, c)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "There is no incident with this ID.") {
		t.Errorf("unknown incident page: %d\n%s", resp.StatusCode, page)
	}
	resp, body := e.do("GET", "/api/incidents/inc-does-not-exist", nil, c)
	if resp.StatusCode != http.StatusNotFound || strings.TrimSpace(body) != `{"error":"incident not found"}` {
		t.Errorf("unknown incident API: %d %s", resp.StatusCode, body)
	}
	for _, target := range []string{"/incidents/", "/nope", "/api/nope"} {
		if resp, _ := e.do("GET", target, nil, c); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, resp.StatusCode)
		}
	}
}

func TestSourceErrorsAreLoggedNotShown(t *testing.T) {
	e := newEnv(t)
	c := e.login(testUser, testPassword)
	const secret = "pq: password authentication failed for user \"leakguard\" at 10.0.3.7"
	e.src.err = errors.New(secret)
	for _, target := range []string{"/", "/incidents/" + awsID, "/api/incidents", "/api/incidents/" + awsID, "/api/stats"} {
		resp, body := e.do("GET", target, nil, c)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("GET %s: %d, want 500", target, resp.StatusCode)
		}
		if strings.Contains(body, "10.0.3.7") || strings.Contains(body, "pq:") {
			t.Errorf("GET %s leaks the error:\n%s", target, body)
		}
	}
	if !strings.Contains(e.logs.String(), "10.0.3.7") {
		t.Errorf("the error is not logged:\n%s", e.logs)
	}
}

func TestHostileContentIsEscaped(t *testing.T) {
	e := newEnv(t)
	hostile := awsIncident()
	hostile.ID = `inc-"><script>alert(1)</script>`
	hostile.Title = `<b onmouseover=alert(1)>AWS</b>`
	hostile.Principal = `arn:aws:iam::1:user/</title><script>alert(2)</script>`
	hostile.Locations = []incident.Location{{
		Repository: `acme/<script>alert("repo")</script>`,
		Commit:     `"><svg onload=alert(3)>`,
		Path:       `"><img src=x onerror=alert(4)>.env`,
		URL:        `javascript:alert(5)`,
		Author:     `<iframe src=//evil.example>`,
	}}
	hostile.Events = append(hostile.Events, incident.Event{At: at(2), Kind: `</text><script>alert(6)</script>`, Detail: `<style>*{display:none}</style>`})
	hostile.Activity[1].UserAgent = `"><script>alert(7)</script>`
	hostile.Activity[1].SourceIP = `<img src=x onerror=alert(8)>`
	e.src.incs = []incident.Incident{hostile}
	c := e.login(testUser, testPassword)

	_, list := e.do("GET", "/?q="+url.QueryEscape(`<script>`), nil, c)
	resp, page := e.do("GET", "/incidents/"+url.PathEscape(hostile.ID), nil, c)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET hostile incident: %d", resp.StatusCode)
	}
	for name, body := range map[string]string{"list": list, "incident": page} {
		for _, bad := range []string{"<script", "<img", "<svg onload", "<iframe", "<b ", "javascript:", "<style>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s page contains %q unescaped", name, bad)
			}
		}
	}
	for _, want := range []string{
		`acme/&lt;script&gt;alert(&#34;repo&#34;)&lt;/script&gt;`,
		`&#34;&gt;&lt;img src=x onerror=alert(4)&gt;.env`,
		`action="/incidents/inc-%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E/resolve"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks the escaped %q", want)
		}
	}
	if !strings.Contains(list, `href="/incidents/inc-%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`) {
		t.Error("list page does not escape the incident ID in its link")
	}
}

// TestSignInThrottled: after 5 failed sign-ins for a user within 15
// minutes, even the right password is refused with 429 until the window
// passes; then it works.
func TestSignInThrottled(t *testing.T) {
	e := newEnv(t)
	try := func(password string) int {
		lc, token := e.loginForm()
		resp, _ := e.do("POST", "/login", url.Values{"csrf": {token}, "username": {testUser}, "password": {password}, "next": {"/"}}, lc)
		return resp.StatusCode
	}
	for i := range 5 {
		if got := try("wrong password"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, got)
		}
	}
	if got := try(testPassword); got != http.StatusTooManyRequests {
		t.Fatalf("right password after 5 failures: %d, want 429", got)
	}
	e.clock.Advance(16 * time.Minute)
	if got := try(testPassword); got != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want 303", got)
	}
}
