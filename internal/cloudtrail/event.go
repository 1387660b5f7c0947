// Package cloudtrail rebuilds what a leaked AWS access key was used for:
// it reads the key's CloudTrail management events, from the LookupEvents
// API or from trail files delivered to S3, and summarises them as the
// attacker timeline an incident responder needs.
package cloudtrail

import (
	"strings"
	"time"
)

// Event is one API call made with an access key, as CloudTrail recorded it.
type Event struct {
	Time        time.Time `json:"time"`
	Service     string    `json:"service"` // event source without ".amazonaws.com", e.g. "iam"
	Name        string    `json:"name"`    // e.g. "CreateUser"
	Region      string    `json:"region"`
	SourceIP    string    `json:"source_ip"`
	UserAgent   string    `json:"user_agent"`
	ErrorCode   string    `json:"error_code,omitempty"` // e.g. "AccessDenied"; empty when the call succeeded
	ErrorMsg    string    `json:"error_message,omitempty"`
	ReadOnly    bool      `json:"read_only"`
	AccessKeyID string    `json:"access_key_id"`
	Principal   string    `json:"principal"` // userIdentity.arn
	AccountID   string    `json:"account_id"`
	EventID     string    `json:"event_id"`
	RequestID   string    `json:"request_id,omitempty"`
}

// Denied reports whether the call was refused by authorisation.
func (e Event) Denied() bool {
	switch e.ErrorCode {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError":
		return true
	}
	return false
}

// Summary condenses a key's activity into the figures an incident page
// leads with.
type Summary struct {
	Calls      int       `json:"calls"`
	Denied     int       `json:"denied"`
	Allowed    int       `json:"allowed"` // calls that succeeded
	Failed     int       `json:"failed"`  // errors other than denials
	First      time.Time `json:"first,omitempty"`
	Last       time.Time `json:"last,omitempty"`
	SourceIPs  []string  `json:"source_ips"`  // distinct, in order of first appearance
	UserAgents []string  `json:"user_agents"` // distinct, in order of first appearance
	Succeeded  []string  `json:"succeeded"`   // distinct "service:Name" that succeeded, in order of first success
}

// Self reports whether the call is LeakGuard's own key check: an
// sts:GetCallerIdentity whose User-Agent contains "leakguard/". The
// User-Agent is the caller's to choose, so this is only trusted for that
// one harmless, read-only call: an attacker who copies the marker hides
// nothing else.
func (e Event) Self() bool {
	return e.Service == "sts" && e.Name == "GetCallerIdentity" && strings.Contains(strings.ToLower(e.UserAgent), "leakguard/")
}
