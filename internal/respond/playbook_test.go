package respond

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/notify"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// TestNotifyRetriesOnlyFailedChannels: mail goes out, the chat webhook
// fails; the repeated run retries the webhook only, and no second email
// is sent.
func TestNotifyRetriesOnlyFailedChannels(t *testing.T) {
	ctx := context.Background()
	mail := smtptest.Start(t)
	var calls atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer hook.Close()
	log := &audit.Memory{}
	p := &Playbook{
		Responder: &containment.Responder{Actor: "test"}, Audit: log, NotifyAttempts: 1,
		Channels: func(string) ([]notify.Channel, error) {
			return []notify.Channel{
				&notify.SMTP{Addr: mail.Addr, From: "leakguard@example.com", To: []string{"owner@example.com"}, Username: mail.Username, Password: mail.Password, TLSConfig: mail.ClientTLS},
				&notify.Webhook{URL: hook.URL},
			}, nil
		},
	}
	rep := func() Report {
		return Report{Incident: "inc_1", DetectedAt: time.Now(), Containment: containment.Result{Identity: containment.Identity{KeyID: "AKIAQYLPMN5HFIQR7XYA", Account: "123456789012"}, Policy: containment.Quarantine}}
	}
	r1 := rep()
	if err := p.notify(ctx, Alert{}, &r1, nil, "notify"); err == nil {
		t.Fatal("a failed channel was not reported")
	}
	if n := len(mail.Wait(1, 10*time.Second)); n != 1 {
		t.Fatalf("%d emails after the first run", n)
	}
	failing.Store(false)
	r2 := rep()
	if err := p.notify(ctx, Alert{}, &r2, log.Entries(), "notify"); err != nil {
		t.Fatalf("second run: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d emails: the delivered channel was sent again", n)
	}
	if c := calls.Load(); c != 2 {
		t.Errorf("webhook called %d times, want 2 (failed, then retried)", c)
	}
	if r2.Notified.IsZero() {
		t.Error("the report does not say when the owner was told")
	}
}
