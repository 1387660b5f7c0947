package dashboard_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/dashboard"
	"github.com/leakguard/leakguard/internal/incident"
)

// memSource is an in-memory dashboard.Source for the handler and browser
// tests. The real store (SQLite or PostgreSQL, written by another
// engineer) is exercised by the server's end-to-end tests; this one only
// has to filter plausibly and record what the dashboard asked of it.
type memSource struct {
	mu       sync.Mutex
	incs     []incident.Incident
	stats    incident.Stats
	now      func() time.Time
	err      error             // when set, every method fails with it
	filters  []incident.Filter // every List call's filter
	resolves []resolveCall     // every Resolve call
}

type resolveCall struct{ ID, Actor string }

func newMemSource(now func() time.Time, incs ...incident.Incident) *memSource {
	return &memSource{
		incs: incs,
		now:  now,
		stats: incident.Stats{
			Open: 1, Total: len(incs),
			ContainP50: 0.9, ContainP95: 1.4, NotifyP50: 1.6, NotifyP95: 2.3,
			DeadJobs: 2,
		},
	}
}

func (m *memSource) List(_ context.Context, f incident.Filter) ([]incident.Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters = append(m.filters, f)
	if m.err != nil {
		return nil, m.err
	}
	limit := cmp.Or(f.Limit, 100)
	var out []incident.Incident
	for _, inc := range m.incs {
		if f.State != "" && inc.State != f.State {
			continue
		}
		var repos []string
		for _, l := range inc.Locations {
			repos = append(repos, l.Repository)
		}
		if f.Repository != "" && !slices.Contains(repos, f.Repository) {
			continue
		}
		hay := strings.ToLower(strings.Join(append(repos, inc.Title, inc.KeyID, inc.Account, inc.Principal), "\n"))
		if f.Query != "" && !strings.Contains(hay, strings.ToLower(f.Query)) {
			continue
		}
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b incident.Incident) int { return b.Created.Compare(a.Created) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memSource) Get(_ context.Context, id string) (incident.Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return incident.Incident{}, m.err
	}
	for _, inc := range m.incs {
		if inc.ID == id {
			return inc, nil
		}
	}
	return incident.Incident{}, fmt.Errorf("get %q: %w", id, dashboard.ErrNotFound)
}

func (m *memSource) Stats(context.Context) (incident.Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return incident.Stats{}, m.err
	}
	return m.stats, nil
}

func (m *memSource) Resolve(_ context.Context, id, actor string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resolves = append(m.resolves, resolveCall{ID: id, Actor: actor})
	if m.err != nil {
		return m.err
	}
	for i := range m.incs {
		if m.incs[i].ID == id {
			at := m.now()
			m.incs[i].State = incident.Resolved
			m.incs[i].Updated = at
			m.incs[i].Events = append(m.incs[i].Events, incident.Event{At: at, Kind: incident.ResolvedEvent, Detail: "marked resolved by " + actor})
			return nil
		}
	}
	return fmt.Errorf("resolve %q: %w", id, dashboard.ErrNotFound)
}

func (m *memSource) lastFilter() (incident.Filter, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.filters) == 0 {
		return incident.Filter{}, false
	}
	return m.filters[len(m.filters)-1], true
}

func (m *memSource) resolveCalls() []resolveCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.resolves)
}

// pushTime is when the fixture's key was pushed.
var pushTime = time.Date(2026, 3, 14, 9, 26, 53, 120_000_000, time.UTC)

// at returns pushTime plus sec seconds.
func at(sec float64) time.Time { return pushTime.Add(time.Duration(sec * float64(time.Second))) }

const (
	awsID       = "inc-20260314-0007"
	attackerIP  = "198.51.100.7"
	fixtureKey  = "AKIA4GQ7XBZL2NWRT6HY"
	fixtureAcct = "838658887255"
)

// awsIncident is a leaked AWS key as LeakGuard handles one: pushed at T,
// received T+0.2 s, detected T+0.4 s, contained T+0.9 s, verified
// T+1.1 s, owner notified T+1.6 s; the attacker's first call comes at
// T+13 s, then two calls the quarantine denies. LeakGuard's own check
// (sts:GetCallerIdentity, User-Agent leakguard/…) is in the activity too.
func awsIncident() incident.Incident {
	const ua = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 Botocore/1.34.69"
	principal := "arn:aws:iam::" + fixtureAcct + ":user/ci-deploy"
	ct := func(sec float64, svc, name, region, ip, agent, errCode string) cloudtrail.Event {
		return cloudtrail.Event{
			Time: at(sec), Service: svc, Name: name, Region: region, SourceIP: ip, UserAgent: agent,
			ErrorCode: errCode, AccessKeyID: fixtureKey, Principal: principal, AccountID: fixtureAcct,
			EventID: fmt.Sprintf("ev-%s-%.0f", name, sec*10), ReadOnly: true,
		}
	}
	denied := func(e cloudtrail.Event) cloudtrail.Event {
		e.ErrorMsg = "User: " + principal + " is not authorized to perform: " + e.Service + ":" + e.Name + " with an explicit deny in an identity-based policy"
		return e
	}
	return incident.Incident{
		ID:          awsID,
		Fingerprint: "lg1:5d41402abc4b2a76b9719d911017c592",
		RuleID:      "aws-access-token",
		Title:       "AWS access key",
		Redacted:    "q3Vd*****",
		KeyID:       fixtureKey,
		Account:     fixtureAcct,
		Principal:   principal,
		State:       incident.Contained,
		Source:      "push",
		Created:     at(0.4),
		Updated:     at(13),
		Locations: []incident.Location{{
			Repository: "acme/payments-api",
			Commit:     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
			Path:       "deploy/staging.env",
			Line:       12,
			URL:        "https://github.com/acme/payments-api/blob/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b/deploy/staging.env#L12",
			Author:     "dev@acme.example",
			Time:       at(-40),
		}},
		Events: []incident.Event{
			{At: at(0), Kind: incident.Pushed, Detail: "push to acme/payments-api refs/heads/main"},
			{At: at(0.2), Kind: incident.Received, Detail: "GitHub push webhook"},
			{At: at(0.4), Kind: incident.Detected, Detail: "rule aws-access-token in deploy/staging.env:12"},
			{At: at(0.9), Kind: incident.ContainedEvent, Detail: "AWSCompromisedKeyQuarantineV3 attached to ci-deploy"},
			{At: at(1.1), Kind: incident.Verified, Detail: "quarantine in effect (key checked with sts:GetCallerIdentity)"},
			{At: at(1.6), Kind: incident.Notified, Detail: "email to security@acme.example"},
			{At: at(13), Kind: incident.FirstAttackerCall, Detail: "sts:GetCallerIdentity from " + attackerIP},
		},
		Activity: []cloudtrail.Event{
			ct(1.05, "sts", "GetCallerIdentity", "us-east-1", "203.0.113.10", "leakguard/0.9.0 aws-sdk-go-v2/1.48.0", ""),
			ct(13, "sts", "GetCallerIdentity", "us-east-1", attackerIP, ua, ""),
			denied(ct(14.2, "iam", "ListUsers", "us-east-1", attackerIP, ua, "AccessDenied")),
			denied(ct(15.8, "s3", "ListBuckets", "us-east-1", attackerIP, ua, "AccessDenied")),
		},
	}
}

// githubIncident is a resolved GitHub token: no key ID, no AWS reference.
func githubIncident() incident.Incident {
	t := pushTime.Add(-26 * time.Hour)
	return incident.Incident{
		ID: "inc-20260313-0003", Fingerprint: "lg1:7c211433f02071597741e6ff5a8ea34", RuleID: "github-pat",
		Title: "GitHub personal access token", Redacted: "ghp_*****", State: incident.Resolved, Source: "push",
		Created: t.Add(300 * time.Millisecond), Updated: t.Add(3 * time.Hour),
		Locations: []incident.Location{{Repository: "acme/infra", Commit: "2c26b46b68ffc68ff99b453c1d30413413422d70", Path: "scripts/release.sh", Line: 4}},
		Events: []incident.Event{
			{At: t, Kind: incident.Pushed},
			{At: t.Add(150 * time.Millisecond), Kind: incident.Received},
			{At: t.Add(300 * time.Millisecond), Kind: incident.Detected},
			{At: t.Add(1200 * time.Millisecond), Kind: incident.Notified},
			{At: t.Add(3 * time.Hour), Kind: incident.ResolvedEvent, Detail: "marked resolved by bob"},
		},
	}
}

// partnerIncident is an open Stripe key reported by a partner: no push,
// so its times count from the reception.
func partnerIncident() incident.Incident {
	t := pushTime.Add(-2 * time.Hour)
	return incident.Incident{
		ID: "inc-20260314-0002", Fingerprint: "lg1:a87ff679a2f3e71d9181a67b7542122c", RuleID: "stripe-access-token",
		Title: "Stripe secret key", Redacted: "sk_l*****", State: incident.Open, Source: "partner",
		Created: t, Updated: t,
		Locations: []incident.Location{{Repository: "acme/website", Path: "gist", URL: "https://gist.github.com/acme-dev/1"}},
		Events: []incident.Event{
			{At: t, Kind: incident.Received, Detail: "GitHub secret scanning partner alert"},
			{At: t.Add(250 * time.Millisecond), Kind: incident.Detected},
			{At: t.Add(900 * time.Millisecond), Kind: incident.Notified},
		},
	}
}
