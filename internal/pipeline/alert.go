package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/leakguard/leakguard/internal/awskey"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/incident"
)

// Alert is a secret reported by someone else: a secret-scanning partner
// alert (GitHub's format) or a finding posted by a scanner.
type Alert struct {
	Token      string // the secret itself; never stored
	Type       string // the reporter's type name, e.g. "aws_access_key_id"
	URL        string // where it was found
	Source     string // where on the reporter's side ("commit", "issue_comment"…)
	ReceivedAt time.Time
}

// RecordAlert files an alert under its incident and, for an AWS access
// key ID, starts the response, in one transaction. It reports whether the
// alert is a true positive: a well-formed credential LeakGuard can act on.
func (p *Pipeline) RecordAlert(ctx context.Context, a Alert) (bool, error) {
	token := strings.TrimSpace(a.Token)
	if token == "" {
		return false, nil
	}
	keyID := ""
	if awskey.IsAccessKeyID(token) && !awskey.IsDocumentationExample(token) {
		keyID = token
	}
	received := a.ReceivedAt.UTC()
	inc := incident.Incident{
		Fingerprint: finding.Fingerprint(token), RuleID: "partner:" + a.Type, Title: "Reported " + a.Type,
		Redacted: finding.Redact(token), KeyID: keyID, Source: "partner",
		Locations: []incident.Location{{Repository: a.URL, URL: a.URL, Path: a.Source}},
		Events: []incident.Event{
			{At: received, Kind: incident.Received, Detail: "partner alert, " + a.Source},
			{At: received, Kind: incident.Detected, Detail: a.Type},
		},
	}
	if keyID != "" {
		inc.Title = "AWS access key (reported)"
		if acct, err := awskey.AccountID(keyID); err == nil {
			inc.Account = acct
		}
	}
	tx, err := p.deps.Store.DB().BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("record alert: %w", err)
	}
	defer tx.Rollback()
	id, created, err := p.deps.Store.Upsert(ctx, tx, inc)
	if err != nil {
		return false, err
	}
	if created && keyID != "" {
		if _, err := p.client.InsertTx(ctx, tx, RespondArgs{IncidentID: id, KeyID: keyID, FoundURL: a.URL, FoundWhere: "reported by a secret-scanning partner (" + a.Source + ")", DetectedAt: received},
			&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return false, fmt.Errorf("enqueue response to %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("record alert: %w", err)
	}
	p.deps.Logger.Info("alert recorded", "incident", id, "new", created, "type", a.Type, "fingerprint", inc.Fingerprint)
	return keyID != "", nil
}
