package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser the test drives; CI installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	t.Fatal("chromium not found in PATH or at /usr/bin/chromium: install it with `apt-get install -y chromium`")
	return ""
}

// newBrowser starts a headless Chromium that stays off the network (the
// machine has none, and the background services would keep retrying).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	// A generous bound so that a hung browser fails the test instead of
	// stalling it; nothing asserts how long a step takes.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browserCtx
}

// timelineMark is what the browser shows of one marker of the timeline.
type timelineMark struct {
	Panel  string  `json:"panel"`
	Kind   string  `json:"kind"`
	Label  string  `json:"label"`
	Dot    bool    `json:"dot"`
	Left   float64 `json:"left"`
	Right  float64 `json:"right"`
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	InSVG  bool    `json:"inSVG"` // the label's box lies inside the SVG's
}

// readTimeline returns the markers of the page's timeline with the boxes
// the browser laid their labels out in.
const readTimeline = `(() => {
  const svg = document.querySelector('svg.timeline').getBoundingClientRect();
  return Array.from(document.querySelectorAll('svg.timeline g.mark')).map(g => {
    const r = g.querySelector('text.label').getBoundingClientRect();
    return {
      panel: g.closest('g.panel').dataset.panel,
      kind: g.dataset.kind,
      label: g.querySelector('text.label').textContent,
      dot: g.querySelector('circle') !== null,
      left: r.left, right: r.right, top: r.top, bottom: r.bottom,
      inSVG: r.left >= svg.left && r.right <= svg.right && r.top >= svg.top && r.bottom <= svg.bottom,
    };
  });
})()`

// readActivity returns the class and the cells of each row of the
// attacker activity table.
const readActivity = `Array.from(document.querySelectorAll('table.activity tbody tr')).map(tr => ({
  class: tr.className,
  cells: Array.from(tr.cells).map(td => td.textContent.trim()),
}))`

type activityRow struct {
	Class string   `json:"class"`
	Cells []string `json:"cells"`
}

// TestBrowser signs in with a real browser, opens the incident and checks
// what it draws: the timeline's markers and labels (and that the labels
// the browser laid out do not overlap), the attacker rows, a screenshot.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	t.Cleanup(ts.Close)
	ctx := newBrowser(t)

	// Collect what the page writes to the console: a script error or a
	// Content-Security-Policy violation (an inline style, say) shows there.
	consoleCtx, stopConsole := context.WithCancel(ctx)
	var (
		consoleMu   sync.Mutex
		consoleMsgs []chromedp.ConsoleMessage
		consoleDone = make(chan struct{})
	)
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			consoleMu.Lock()
			consoleMsgs = append(consoleMsgs, m)
			consoleMu.Unlock()
		}
	}()

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	location := func() *url.URL {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("location %q: %v", loc, err)
		}
		return u
	}

	// Signed out, the dashboard sends the browser to the login form.
	run("open /", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("form#login")))
	if u := location(); u.Path != "/login" || u.Query().Get("next") != "/" {
		t.Fatalf("signed out, / lands on %s, want /login?next=/", u)
	}

	// A wrong password keeps the browser on the form.
	run("wrong password",
		chromedp.SendKeys(chromedp.CSS("#username"), testUser),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS(`form#login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.alert")),
	)
	if alert, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.alert"))); err != nil || alert != "Wrong username or password." {
		t.Fatalf("alert %q (%v)", alert, err)
	}

	// The form keeps the username; signed in, the list shows the incident.
	if user, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#username"))); err != nil || user != testUser {
		t.Errorf("username after a failed sign-in: %q (%v), want %q", user, err, testUser)
	}
	run("sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS(`form#login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.incidents")),
	)
	if u := location(); u.Path != "/" {
		t.Fatalf("after sign-in the browser is at %s, want /", u)
	}
	list, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.incidents")))
	if err != nil {
		t.Fatalf("read list: %v", err)
	}
	for _, want := range []string{"AWS access key", fixtureKey, fixtureAcct, "acme/payments-api", "0.90 s"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}

	// The filter form narrows the list through the query string.
	run("filter",
		chromedp.SetValue(chromedp.CSS(`select[name="state"]`), "open"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(`select[name="state"] option[value="open"][selected]`)),
	)
	if f, _ := e.src.lastFilter(); f.State != "open" {
		t.Errorf("filter form sent %+v", f)
	}
	run("clear filter", chromedp.Click(chromedp.CSS("a.clear")), chromedp.WaitVisible(chromedp.CSS(`a[href="/incidents/`+awsID+`"]`)))

	// The incident page.
	run("open incident",
		chromedp.Click(chromedp.CSS(`a[href="/incidents/`+awsID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("svg.timeline")),
	)
	if u := location(); u.Path != "/incidents/"+awsID {
		t.Fatalf("incident page at %s", u)
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[[]timelineMark](readTimeline))
	if err != nil {
		t.Fatalf("read timeline: %v", err)
	}
	labels := map[string]timelineMark{} // first panel: the whole response
	for _, m := range marks {
		if m.Panel == "0" {
			labels[m.Kind] = m
		}
		if !m.InSVG {
			t.Errorf("label %q (panel %s) is drawn outside the SVG", m.Label, m.Panel)
		}
	}
	for kind, want := range map[string]string{
		"pushed":              "pushed +0.00 s",
		"detected":            "detected +0.40 s",
		"contained":           "contained +0.90 s",
		"notified":            "notified +1.60 s",
		"first_attacker_call": "first attacker call +13.0 s",
		"aws-quarantine":      "AWS quarantine +67 s",
		"aws-email":           "AWS email ≈+116 s",
	} {
		m, ok := labels[kind]
		if !ok || m.Label != want {
			t.Errorf("timeline marker %s: %q (present %v), want %q", kind, m.Label, ok, want)
		}
		if ok && m.Dot == strings.HasPrefix(kind, "aws-") {
			t.Errorf("timeline marker %s: dot %v (AWS's reference marks have none, events do)", kind, m.Dot)
		}
	}
	// To scale: AWS's marks sit far right of LeakGuard's.
	if c, q := labels["contained"], labels["aws-quarantine"]; !(q.Left > c.Left+300) {
		t.Errorf("AWS quarantine label at x=%.0f, contained at x=%.0f: not to scale", q.Left, c.Left)
	}
	// The labels the browser laid out overlap nowhere.
	for i, a := range marks {
		for _, b := range marks[i+1:] {
			if a.Panel == b.Panel && a.Left < b.Right && b.Left < a.Right && a.Top < b.Bottom && b.Top < a.Bottom {
				t.Errorf("labels %q and %q overlap", a.Label, b.Label)
			}
		}
	}

	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]activityRow](readActivity))
	if err != nil {
		t.Fatalf("read activity: %v", err)
	}
	var attacker, self []activityRow
	for _, r := range rows {
		switch r.Class {
		case "attacker":
			attacker = append(attacker, r)
		case "self":
			self = append(self, r)
		}
	}
	if len(attacker) != 3 || len(self) != 1 {
		t.Fatalf("activity rows: %d attacker, %d LeakGuard, want 3 and 1: %+v", len(attacker), len(self), rows)
	}
	wantRows := [][]string{
		{"+13.0 s", "sts:GetCallerIdentity", attackerIP, "OK"},
		{"+14.2 s", "iam:ListUsers", attackerIP, "denied (AccessDenied)"},
		{"+15.8 s", "s3:ListBuckets", attackerIP, "denied (AccessDenied)"},
	}
	for i, r := range attacker {
		if len(r.Cells) != 7 {
			t.Fatalf("attacker row %d: %q", i, r.Cells)
		}
		got := []string{r.Cells[1], r.Cells[2], r.Cells[4], r.Cells[6]}
		if fmt.Sprint(got) != fmt.Sprint(wantRows[i]) {
			t.Errorf("attacker row %d: %q, want %q", i, got, wantRows[i])
		}
	}
	if !strings.Contains(self[0].Cells[2], "LeakGuard check") {
		t.Errorf("LeakGuard's own call is not labelled: %q", self[0].Cells)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 900 {
		t.Errorf("screenshot is %dx%d, want at least 1000x900 (the whole page)", b.Dx(), b.Dy())
	}
	out := filepath.Join(t.TempDir(), "incident.png")
	if os.Getenv("LEAKGUARD_UPDATE_SCREENSHOT") == "1" {
		out = filepath.Join("testdata", "incident.png")
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))

	// "Mark resolved" posts the form with its token and comes back.
	run("resolve",
		chromedp.Click(chromedp.CSS(`form.resolve button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1 .badge.state-resolved`)),
	)
	if calls := e.src.resolveCalls(); len(calls) != 1 || calls[0] != (resolveCall{ID: awsID, Actor: testUser}) {
		t.Errorf("Resolve calls: %v", calls)
	}

	stopConsole()
	<-consoleDone
	for _, m := range consoleMsgs {
		if m.Source == "network" && strings.Contains(m.Text, "status of 401") {
			continue // the wrong password above
		}
		t.Errorf("browser console: %s (source %q, %s)", m, m.Source, m.URL)
	}

	// A fresh browser context, without the session cookie, sees only the
	// login form.
	fresh, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(fresh, chromedp.Navigate(ts.URL+"/incidents/"+awsID), chromedp.WaitVisible(chromedp.CSS("form#login"))); err != nil {
		t.Fatalf("fresh context: %v", err)
	}
	body, err := chromedp.Run(fresh, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("fresh context body: %v", err)
	}
	if strings.Contains(body, fixtureKey) || strings.Contains(body, attackerIP) {
		t.Error("a browser without a session sees the incident")
	}
	loc, err := chromedp.Run(fresh, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, ts.URL+"/login?next=") {
		t.Errorf("fresh context at %q (%v), want the login form", loc, err)
	}
}
