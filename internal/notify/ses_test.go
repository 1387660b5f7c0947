package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/leakguard/leakguard/internal/mototest"
)

// motoRawMessage is a message moto's SES accepted through SendRawEmail.
type motoRawMessage struct {
	ID           string   `json:"id"`
	Source       string   `json:"source"`
	Destinations []string `json:"destinations"`
	RawData      string   `json:"raw_data"`
}

// motoRawMessages reads the raw messages moto's SES has accepted, from
// its state dump.
func motoRawMessages(t *testing.T, srv *mototest.Server) []motoRawMessage {
	t.Helper()
	resp, err := http.Get(srv.URL + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		SES struct {
			RawMessage []motoRawMessage `json:"RawMessage"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatalf("moto state: %v", err)
	}
	return state.SES.RawMessage
}

func TestSESSendsRawEmail(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	client := ses.NewFromConfig(acct.AdminConfig())
	ctx := context.Background()
	if _, err := client.VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityInput{EmailAddress: aws.String("leakguard@example.com")}); err != nil {
		t.Fatal(err)
	}
	ch := &SES{Client: client, From: "LeakGuard <leakguard@example.com>", To: []string{"Cloud Owner <owner@example.com>"}}
	inc := sampleIncident()
	ref, err := ch.Send(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	if ref == "" {
		t.Fatal("SES returned no message ID")
	}
	var found bool
	for _, m := range motoRawMessages(t, srv) {
		if m.ID != ref {
			continue
		}
		found = true
		if m.Source != "leakguard@example.com" {
			t.Errorf("source = %q", m.Source)
		}
		if !strings.Contains(strings.Join(m.Destinations, ","), "owner@example.com") {
			t.Errorf("destinations = %v", m.Destinations)
		}
		raw := strings.ReplaceAll(strings.ReplaceAll(m.RawData, "\r\n", "\n"), "\n", "\r\n")
		pm := parseMessage(t, []byte(raw))
		want, _ := Render(inc)
		if pm.Subject != want.Subject {
			t.Errorf("subject = %q, want %q", pm.Subject, want.Subject)
		}
		for _, s := range []string{inc.KeyID, inc.Account, inc.UserName, inc.FoundURL, "delete-access-key", "leakguard aws release"} {
			if !strings.Contains(pm.Text, s) || !strings.Contains(pm.HTML, s) {
				t.Errorf("message parts lack %q", s)
			}
		}
	}
	if !found {
		t.Fatalf("moto has no raw message %s", ref)
	}
}

func TestSESUnverifiedSender(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	ch := &SES{Client: ses.NewFromConfig(acct.AdminConfig()), From: "nobody@unverified.example", To: []string{"owner@example.com"}}
	sl := &sleeps{}
	n := &Notifier{Channels: []Channel{ch}, Attempts: 3, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	var rejected *types.MessageRejected
	if !errors.As(err, &rejected) {
		t.Fatalf("err = %v, want MessageRejected", err)
	}
	if !IsPermanent(ds[0].Err) || ds[0].Attempts != 1 || len(sl.d) != 0 {
		t.Errorf("delivery %+v after %d waits, want one permanent failure", ds[0], len(sl.d))
	}
	for _, m := range motoRawMessages(t, srv) {
		if m.Source == "nobody@unverified.example" {
			t.Errorf("moto accepted a message from the unverified sender")
		}
	}
}
