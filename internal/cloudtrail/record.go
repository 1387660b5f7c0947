package cloudtrail

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// record is a CloudTrail event record: the CloudTrailEvent string of a
// LookupEvents result, or one element of a trail file's "Records".
type record struct {
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	EventTime          string   `json:"eventTime"`
	EventSource        string   `json:"eventSource"`
	EventName          string   `json:"eventName"`
	AWSRegion          string   `json:"awsRegion"`
	SourceIPAddress    string   `json:"sourceIPAddress"`
	UserAgent          string   `json:"userAgent"`
	ErrorCode          string   `json:"errorCode"`
	ErrorMessage       string   `json:"errorMessage"`
	RequestID          string   `json:"requestID"`
	EventID            string   `json:"eventID"`
	ReadOnly           flexBool `json:"readOnly"`
	RecipientAccountID string   `json:"recipientAccountId"`
}

// flexBool accepts a JSON boolean or the strings "true" and "false":
// CloudTrail writes readOnly both ways.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return fmt.Errorf("readOnly: want a boolean, got %.40s", data)
	}
	return nil
}

// parseRecord turns one CloudTrail event record into an Event. A record
// without a parseable eventTime, an eventSource, an eventName or an
// eventID is an error: none of those is optional in CloudTrail's format.
func parseRecord(data []byte) (Event, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return Event{}, fmt.Errorf("parse event record: %w", err)
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"eventTime", r.EventTime}, {"eventSource", r.EventSource}, {"eventName", r.EventName}, {"eventID", r.EventID},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Event{}, fmt.Errorf("parse event record: missing %s", strings.Join(missing, ", "))
	}
	t, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return Event{}, fmt.Errorf("parse event record %s: eventTime: %w", r.EventID, err)
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		// Out of range for RFC 3339 once in UTC, so the Event would not
		// marshal: e.g. 0000-01-01T00:00:00+01:00.
		return Event{}, fmt.Errorf("parse event record %s: eventTime %s out of range", r.EventID, r.EventTime)
	}
	account := r.UserIdentity.AccountID
	if account == "" {
		account = r.RecipientAccountID
	}
	return Event{
		Time:        t.UTC(),
		Service:     strings.TrimSuffix(r.EventSource, ".amazonaws.com"),
		Name:        r.EventName,
		Region:      r.AWSRegion,
		SourceIP:    r.SourceIPAddress,
		UserAgent:   r.UserAgent,
		ErrorCode:   r.ErrorCode,
		ErrorMsg:    r.ErrorMessage,
		ReadOnly:    bool(r.ReadOnly),
		AccessKeyID: r.UserIdentity.AccessKeyID,
		Principal:   r.UserIdentity.ARN,
		AccountID:   account,
		EventID:     r.EventID,
		RequestID:   r.RequestID,
	}, nil
}

// checkWindow validates the arguments every reader shares.
func checkWindow(keyID string, since, until time.Time) error {
	if keyID == "" {
		return errors.New("no access key ID")
	}
	if !since.Before(until) {
		return fmt.Errorf("empty time window: since %s, until %s", since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	}
	return nil
}

// sortEvents drops events whose EventID was already seen, keeping the
// first, and sorts the rest by time, then EventID. It reuses events'
// backing array.
func sortEvents(events []Event) []Event {
	seen := make(map[string]bool, len(events))
	out := events[:0]
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.EventID, b.EventID))
	})
	return out
}
