package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	var job *RespondArgs
	if keyID != "" {
		job = &RespondArgs{KeyID: keyID, FoundURL: a.URL, FoundWhere: "reported by a secret-scanning partner (" + a.Source + ")", DetectedAt: received}
	}
	id, created, err := p.file(ctx, inc, job)
	if err != nil {
		return false, err
	}
	p.deps.Logger.Info("alert recorded", "incident", id, "new", created, "type", a.Type, "fingerprint", inc.Fingerprint)
	return keyID != "", nil
}

// Reported is a finding posted by a scanner (`leakguard scan --report-to`,
// the pre-receive hook). It never carries a plaintext secret: only its
// fingerprint, redacted form and, for AWS keys, the key ID.
type Reported struct {
	RuleID      string             `json:"rule_id"`
	Description string             `json:"description"`
	Fingerprint string             `json:"fingerprint"`
	Redacted    string             `json:"redacted"`
	KeyID       string             `json:"key_id,omitempty"`
	Locations   []ReportedLocation `json:"locations"`
}

// ReportedLocation is where a reported finding is.
type ReportedLocation struct {
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"`
	URL    string `json:"url,omitempty"`
}

// RecordReported files a scanner's finding under its incident, starting
// the response for an AWS key.
func (p *Pipeline) RecordReported(ctx context.Context, repository string, f Reported, received time.Time) (string, error) {
	if !strings.HasPrefix(f.Fingerprint, "lg1:") && f.KeyID == "" {
		return "", fmt.Errorf("reported finding without a fingerprint")
	}
	keyID := ""
	if awskey.IsAccessKeyID(f.KeyID) && !awskey.IsDocumentationExample(f.KeyID) {
		keyID = f.KeyID
	}
	received = received.UTC()
	inc := incident.Incident{
		Fingerprint: f.Fingerprint, RuleID: f.RuleID, Title: f.Description, Redacted: f.Redacted, KeyID: keyID, Source: "report",
		Events: []incident.Event{{At: received, Kind: incident.Received, Detail: "reported by a scanner"}, {At: received, Kind: incident.Detected, Detail: f.RuleID}},
	}
	var where, url string
	for _, l := range f.Locations {
		t, _ := time.Parse(time.RFC3339, l.Date)
		inc.Locations = append(inc.Locations, incident.Location{Repository: repository, Commit: l.Commit, Path: l.Path, Line: l.Line, URL: l.URL, Author: l.Author, Time: t})
		if where == "" {
			where, url = fmt.Sprintf("%s, %s line %d", repository, l.Path, l.Line), l.URL
		}
	}
	var job *RespondArgs
	if keyID != "" {
		inc.Fingerprint = finding.Fingerprint(keyID)
		if acct, err := awskey.AccountID(keyID); err == nil {
			inc.Account = acct
		}
		job = &RespondArgs{KeyID: keyID, FoundURL: url, FoundWhere: where, DetectedAt: received}
	}
	id, _, err := p.file(ctx, inc, job)
	return id, err
}
