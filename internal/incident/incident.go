// Package incident is LeakGuard's record of a leaked secret: one incident
// per distinct secret (by fingerprint, across repositories), its state, its
// locations, the timestamped events of its timeline and the attacker
// activity found. No plaintext secret is ever part of it: only the
// fingerprint, the redacted form and, for AWS keys, the key ID (an
// identifier, not a secret).
package incident

import (
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
)

// State is where an incident is in its life.
type State string

// States, in order.
const (
	Open      State = "open"      // detected, not contained (yet)
	Contained State = "contained" // the credential can no longer be used
	Resolved  State = "resolved"  // the owner rotated the credential
	Released  State = "released"  // the quarantine was lifted after rotation
	Dismissed State = "dismissed" // a known test key, an allow-listed fingerprint or a false positive
)

// Event kinds on an incident's timeline.
const (
	Pushed            = "pushed"              // the commit was pushed (from the push's own time)
	Received          = "received"            // LeakGuard received the push or alert
	Detected          = "detected"            // the scan found the secret
	ContainedEvent    = "contained"           // containment applied
	Verified          = "verified"            // containment checked to hold
	Notified          = "notified"            // the owner was told
	CaseOpened        = "case_opened"         // a case or ticket was opened
	FirstAttackerCall = "first_attacker_call" // the first call with the key by someone else
	ResolvedEvent     = "resolved"
	ReleasedEvent     = "released"
	DismissedEvent    = "dismissed"
	Failed            = "failed" // a step failed; Detail says which
)

// Incident is one leaked secret.
type Incident struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint"` // lg1:… of the secret
	RuleID      string    `json:"rule_id"`
	Title       string    `json:"title"`    // e.g. "AWS access key"
	Redacted    string    `json:"redacted"` // e.g. "AKIA…7ABC"
	KeyID       string    `json:"key_id,omitempty"`
	Account     string    `json:"account,omitempty"`
	Principal   string    `json:"principal,omitempty"`
	State       State     `json:"state"`
	Source      string    `json:"source"` // "push", "partner", "report", "watch"
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Locations   []Location
	Events      []Event
	Activity    []cloudtrail.Event `json:"activity,omitempty"`
}

// Location is one place the secret was found.
type Location struct {
	Repository string    `json:"repository"`
	Commit     string    `json:"commit,omitempty"`
	Path       string    `json:"path,omitempty"`
	Line       int       `json:"line,omitempty"`
	URL        string    `json:"url,omitempty"`
	Author     string    `json:"author,omitempty"`
	Time       time.Time `json:"time,omitzero"`
}

// Event is one timestamped step of an incident.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// At returns when the first event of a kind happened, if it did.
func (inc Incident) At(kind string) (time.Time, bool) {
	var first time.Time
	for _, e := range inc.Events {
		if e.Kind == kind && (first.IsZero() || e.At.Before(first)) {
			first = e.At
		}
	}
	return first, !first.IsZero()
}

// Since returns the seconds from the push (or, failing that, from
// reception) to the first event of kind, if both happened.
func (inc Incident) Since(kind string) (float64, bool) {
	start, ok := inc.At(Pushed)
	if !ok {
		if start, ok = inc.At(Received); !ok {
			return 0, false
		}
	}
	t, ok := inc.At(kind)
	if !ok {
		return 0, false
	}
	return t.Sub(start).Seconds(), true
}

// Filter selects incidents for a list.
type Filter struct {
	State      State  // empty: any
	Repository string // empty: any
	Query      string // substring of title, key ID, account, principal or repository
	Limit      int    // 0: 100
}

// Stats are the dashboard's headline figures.
type Stats struct {
	Open       int     `json:"open"`
	Total      int     `json:"total"`
	ContainP50 float64 `json:"contain_p50_seconds"` // push to contained
	ContainP95 float64 `json:"contain_p95_seconds"`
	NotifyP50  float64 `json:"notify_p50_seconds"` // push to notified
	NotifyP95  float64 `json:"notify_p95_seconds"`
	DeadJobs   int     `json:"dead_jobs"` // pipeline jobs that exhausted their retries
}
