package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackHook is an httptest server standing in for a Slack incoming
// webhook: it records each body and answers with the next status.
type slackHook struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []string
	types    []string
	statuses []int // answers in order; 200 once exhausted
}

func newSlackHook(t *testing.T, statuses ...int) *slackHook {
	h := &slackHook{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.types = append(h.types, r.Header.Get("Content-Type"))
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXXSECRETXXXX" {
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		switch status {
		case http.StatusOK:
			io.WriteString(w, "ok")
		case http.StatusNotFound:
			io.WriteString(w, "no_service")
		default:
			io.WriteString(w, "invalid_payload\n<html>"+strings.Repeat("x", 2000))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *slackHook) webhook() *Webhook {
	return &Webhook{URL: h.URL + "/services/T000/B000/XXXXSECRETXXXX", Client: h.Client()}
}

func TestWebhookPostsSlackText(t *testing.T) {
	h := newSlackHook(t)
	inc := sampleIncident()
	inc.FoundWhere = "config <!channel> & <https://evil.example|click here>"
	ref, err := h.webhook().Send(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "200 OK" {
		t.Errorf("ref = %q", ref)
	}
	if len(h.bodies) != 1 || h.types[0] != "application/json" {
		t.Fatalf("hook got %d posts, Content-Type %v", len(h.bodies), h.types)
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(h.bodies[0]), &payload); err != nil {
		t.Fatal(err)
	}
	text, _ := payload["text"].(string)
	if len(payload) != 1 || text == "" {
		t.Fatalf("payload = %v, want only a text field", payload)
	}
	for _, want := range []string{inc.KeyID, inc.Account, inc.UserName, "quarantine",
		"<" + inc.FoundURL + "|", "config &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;",
		"+2s attach AWSCompromisedKeyQuarantineV3: done", "3 calls, 1 allowed, 2 denied, from 2 IP(s)",
		"sts:GetCallerIdentity", "rotate and delete the key", "leakguard aws release AKIAIOSFODNN7EXAMPLE",
		"<" + inc.DashboardURL + "|Incident " + inc.ID + ">"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!channel>") || strings.Contains(text, "<https://evil.example") {
		t.Errorf("incident text forms a Slack mention or link:\n%s", text)
	}
}

func TestWebhookErrors(t *testing.T) {
	for _, c := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusForbidden, true},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	} {
		h := newSlackHook(t, c.status)
		_, err := h.webhook().Send(context.Background(), sampleIncident())
		if err == nil {
			t.Errorf("%d: no error", c.status)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, http.StatusText(c.status)) || !strings.Contains(msg, "invalid_payload") {
			t.Errorf("%d: error %q lacks the status or the body excerpt", c.status, msg)
		}
		if len(msg) > 400 {
			t.Errorf("%d: error quotes %d bytes of body", c.status, len(msg))
		}
		if strings.Contains(msg, "SECRET") {
			t.Errorf("%d: error reveals the webhook URL: %s", c.status, msg)
		}
		if IsPermanent(err) != c.permanent {
			t.Errorf("%d: permanent = %v, want %v", c.status, IsPermanent(err), c.permanent)
		}
	}
}

func TestWebhookNetworkErrorHidesURL(t *testing.T) {
	h := newSlackHook(t)
	w := h.webhook()
	h.Close() // nothing listens any more
	_, err := w.Send(context.Background(), sampleIncident())
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error reveals the webhook URL: %v", err)
	}
}

func TestNotifierRetriesEachChannel(t *testing.T) {
	flaky := newSlackHook(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	broken := newSlackHook(t, http.StatusBadRequest)
	healthy := newSlackHook(t)
	sl := &sleeps{}
	n := &Notifier{
		Channels: []Channel{flaky.webhook(), broken.webhook(), healthy.webhook()},
		Attempts: 3, Backoff: 10 * time.Second, Sleep: sl.sleep,
	}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") {
		t.Fatalf("err = %v, want the broken channel's failure", err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3", len(ds))
	}
	if ds[0].Err != nil || ds[0].Attempts != 3 || ds[0].Ref != "200 OK" {
		t.Errorf("flaky channel: %+v, want delivered on attempt 3", ds[0])
	}
	if ds[1].Err == nil || ds[1].Attempts != 1 {
		t.Errorf("broken channel: %+v, want one permanent failure", ds[1])
	}
	if ds[2].Err != nil || ds[2].Attempts != 1 {
		t.Errorf("healthy channel: %+v, want delivered at once", ds[2])
	}
	if len(sl.d) != 2 || sl.d[0] != 10*time.Second || sl.d[1] != 20*time.Second {
		t.Errorf("waits = %v, want [10s 20s]", sl.d)
	}
	if len(flaky.bodies) != 3 || len(broken.bodies) != 1 || len(healthy.bodies) != 1 {
		t.Errorf("posts: flaky %d, broken %d, healthy %d", len(flaky.bodies), len(broken.bodies), len(healthy.bodies))
	}
}

func TestNotifierStopsWhenContextEnds(t *testing.T) {
	flaky := newSlackHook(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	ctx, cancel := context.WithCancel(context.Background())
	sl := &sleeps{hook: func(int) { cancel() }}
	n := &Notifier{Channels: []Channel{flaky.webhook()}, Attempts: 5, Sleep: sl.sleep}
	ds, err := n.Notify(ctx, sampleIncident())
	if err == nil || ds[0].Attempts != 1 || len(sl.d) != 1 {
		t.Errorf("err = %v, delivery %+v, waits %v; want a failure after 1 attempt", err, ds[0], sl.d)
	}
}

func TestNotifierWithoutChannels(t *testing.T) {
	if _, err := (&Notifier{}).Notify(context.Background(), sampleIncident()); err == nil {
		t.Error("Notify with no channels reported success")
	}
}
