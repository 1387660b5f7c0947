package cloudtrail

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	base := attack()[2].record() // iam:ListUsers
	with := func(edit func(m map[string]any)) []byte {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		check func(e Event) bool
	}{
		{"readOnly boolean", with(func(m map[string]any) { m["readOnly"] = false }), func(e Event) bool { return !e.ReadOnly }},
		{"readOnly string", with(func(m map[string]any) { m["readOnly"] = "true" }), func(e Event) bool { return e.ReadOnly }},
		{"readOnly absent", with(func(m map[string]any) { delete(m, "readOnly") }), func(e Event) bool { return !e.ReadOnly }},
		{"time with offset and fraction", with(func(m map[string]any) { m["eventTime"] = "2025-03-14T10:00:49.5+01:00" }), func(e Event) bool {
			return e.Time.Equal(pushed.Add(49500*time.Millisecond)) && e.Time.Location() == time.UTC
		}},
		{"account from recipient", with(func(m map[string]any) {
			m["userIdentity"] = map[string]any{"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
			m["recipientAccountId"] = "444455556666"
		}), func(e Event) bool { return e.AccountID == "444455556666" && e.AccessKeyID == "" && e.Principal == "" }},
		{"fields", with(func(map[string]any) {}), func(e Event) bool {
			return e.Service == "iam" && e.Name == "ListUsers" && e.Region == "us-east-1" && e.SourceIP == attackerIP &&
				e.UserAgent == attackerUA && e.AccessKeyID == leakedKey && e.AccountID == account && e.EventID == eventID(3) &&
				e.RequestID == "req-"+eventID(3) && e.ErrorCode == "" && e.Time.Equal(pushed.Add(49*time.Second))
		}},
	} {
		e, err := parseRecord(tc.data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(e) {
			t.Errorf("%s: parsed as %+v", tc.name, e)
		}
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"null", `null`, "missing eventTime, eventSource, eventName, eventID"},
		{"array", `[]`, "cannot unmarshal array"},
		{"identity not an object", string(with(func(m map[string]any) { m["userIdentity"] = 5 })), "userIdentity"},
		{"readOnly number", string(with(func(m map[string]any) { m["readOnly"] = 1 })), "readOnly"},
		{"time not RFC 3339", string(with(func(m map[string]any) { m["eventTime"] = "2025-03-14 09:00:49" })), "eventTime"},
		{"time out of range in UTC", string(with(func(m map[string]any) { m["eventTime"] = "9999-12-31T23:00:00-02:00" })), "out of range"},
		{"no event ID", string(with(func(m map[string]any) { delete(m, "eventID") })), "missing eventID"},
	} {
		if _, err := parseRecord([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestSortEvents(t *testing.T) {
	events := []Event{
		{EventID: "c", Time: pushed.Add(2 * time.Second)},
		{EventID: "b", Time: pushed},
		{EventID: "a", Time: pushed},
		{EventID: "c", Time: pushed.Add(2 * time.Second), Name: "duplicate"},
	}
	got := sortEvents(events)
	if ids := ids(got); strings.Join(ids, ",") != "a,b,c" || got[2].Name != "" {
		t.Errorf("sorted %v (last %+v), want a,b,c keeping the first c", ids, got[2])
	}
}

// FuzzParseRecord: the record parser must not panic, must refuse invalid
// JSON, and what it accepts must have the fields every event has.
func FuzzParseRecord(f *testing.F) {
	for _, r := range attack() {
		f.Add([]byte(r.json()))
	}
	f.Add([]byte(`{"eventID":"x","eventTime":"2025-03-14T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","readOnly":"false"}`))
	f.Add([]byte(`{"eventID":"x","eventTime":"2025-03-14T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","readOnly":7}`))
	f.Add([]byte(`{"eventID":"x","eventTime":"9999-99-99T00:00:00Z","eventSource":"s","eventName":"n"}`))
	f.Add([]byte(`{"userIdentity":null,"eventTime":"","eventSource":""}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"eventID":"\ud800","eventTime":"2025-03-14T09:00:00+14:00","eventSource":"x","eventName":"y"}`))
	f.Add([]byte("{\"eventID\":\"\xff\""))
	f.Add([]byte(`{"eventID":"x","eventTime":"0000-01-01T00:00:00+01:00","eventSource":"s","eventName":"n"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := parseRecord(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if e.EventID == "" || e.Name == "" || e.Time.Location() != time.UTC {
			t.Fatalf("accepted %q as %+v: missing ID, name or UTC time", data, e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("event from %q does not marshal: %v", data, err)
		}
	})
}
