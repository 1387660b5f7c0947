package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummarizeEmpty(t *testing.T) {
	got := Summarize(nil)
	want := Summary{SourceIPs: []string{}, UserAgents: []string{}, Succeeded: []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summarize(nil) = %+v, want %+v", got, want)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"source_ips":[]`) {
		t.Errorf("empty summary JSON %s: want empty lists, not null", b)
	}
}

// TestSummarizeSelf: LeakGuard's own GetCallerIdentity is not counted,
// but its marker in the User-Agent hides nothing else.
func TestSummarizeSelf(t *testing.T) {
	at := pushed
	events := []Event{
		{Time: at, Service: "sts", Name: "GetCallerIdentity", SourceIP: leakguardIP, UserAgent: leakguardUA, EventID: "1"},
		{Time: at.Add(time.Second), Service: "iam", Name: "ListUsers", SourceIP: attackerIP, UserAgent: "LeakGuard/9.9 (spoofed)", EventID: "2"},
		{Time: at.Add(2 * time.Second), Service: "sts", Name: "GetCallerIdentity", SourceIP: attackerIP, UserAgent: "leakguard/9.9", ErrorCode: "ExpiredToken", EventID: "3"},
	}
	got := Summarize(events)
	want := Summary{
		Calls: 1, Allowed: 1,
		First: at.Add(time.Second), Last: at.Add(time.Second),
		SourceIPs:  []string{attackerIP},
		UserAgents: []string{"LeakGuard/9.9 (spoofed)"},
		Succeeded:  []string{"iam:ListUsers"},
	}
	// Event 3 carries the marker on GetCallerIdentity, so it is taken for
	// LeakGuard's own check even though it failed: the marker is trusted
	// for that one call only.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n got %+v\nwant %+v", got, want)
	}
}

func TestSummarizeUnsortedInput(t *testing.T) {
	events := []Event{
		{Time: pushed.Add(time.Minute), Service: "iam", Name: "ListUsers", SourceIP: attackerIP, EventID: "2"},
		{Time: pushed, Service: "s3", Name: "ListBuckets", SourceIP: attackerIP, ErrorCode: "AccessDenied", EventID: "1"},
		{Time: pushed.Add(time.Hour), Service: "ec2", Name: "RunInstances", ErrorCode: "Client.InsufficientInstanceCapacity", EventID: "3"},
	}
	got := Summarize(events)
	if got.Calls != 3 || got.Allowed != 1 || got.Denied != 1 || got.Failed != 1 || !got.First.Equal(pushed) || !got.Last.Equal(pushed.Add(time.Hour)) {
		t.Errorf("summary %+v: want 3 calls (1 allowed, 1 denied, 1 failed) from %s to %s", got, pushed, pushed.Add(time.Hour))
	}
	if !reflect.DeepEqual(got.SourceIPs, []string{attackerIP}) || len(got.UserAgents) != 0 {
		t.Errorf("source IPs %v, user agents %v: want one IP and no empty agent", got.SourceIPs, got.UserAgents)
	}
}

func TestWriteTimeline(t *testing.T) {
	a := attack()
	var events []Event
	for _, r := range []rec{a[0], a[1], a[3], a[6]} {
		e, err := parseRecord([]byte(r.json()))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	var buf bytes.Buffer
	if err := WriteTimeline(&buf, events, pushed); err != nil {
		t.Fatal(err)
	}
	want := `TIME (UTC)            T+    SERVICE  EVENT              REGION     SOURCE IP    USER AGENT                                OUTCOME
2025-03-14T09:00:12Z  +12s  sts      GetCallerIdentity  us-east-1  192.0.2.10   leakguard/0.4.0 aws-sdk-go-v2/1.48.0 os…  OK (leakguard)
2025-03-14T09:00:47Z  +47s  sts      GetCallerIdentity  us-east-1  203.0.113.7  aws-cli/2.15.30 Python/3.11.8 Linux/6.5…  OK
2025-03-14T09:00:52Z  +52s  iam      CreateUser         us-east-1  203.0.113.7  aws-cli/2.15.30 Python/3.11.8 Linux/6.5…  AccessDenied
2025-03-14T09:01:01Z  +61s  ec2      RunInstances       eu-west-1  203.0.113.7  aws-cli/2.15.30 Python/3.11.8 Linux/6.5…  Client.InvalidAMIID.NotFound
`
	if got := buf.String(); got != want {
		t.Errorf("timeline\n%s\nwant\n%s", got, want)
	}

	buf.Reset()
	if err := WriteTimeline(&buf, events[1:2], time.Time{}); err != nil {
		t.Fatal(err)
	}
	want = `TIME (UTC)            SERVICE  EVENT              REGION     SOURCE IP    USER AGENT                                OUTCOME
2025-03-14T09:00:47Z  sts      GetCallerIdentity  us-east-1  203.0.113.7  aws-cli/2.15.30 Python/3.11.8 Linux/6.5…  OK
`
	if got := buf.String(); got != want {
		t.Errorf("timeline without since\n%s\nwant\n%s", got, want)
	}
}

// TestWriteTimelineHostileFields: an attacker-chosen User-Agent cannot
// break the table or send escape sequences to the terminal.
func TestWriteTimelineHostileFields(t *testing.T) {
	events := []Event{{Time: pushed.Add(-3 * time.Second), Service: "iam", Name: "ListUsers", UserAgent: "x\tfake\ncolumn\x1b[31mred", EventID: "1"}}
	var buf bytes.Buffer
	if err := WriteTimeline(&buf, events, pushed); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	if strings.ContainsRune(buf.String(), '\x1b') || !strings.Contains(lines[1], "x?fake?column?[31mred") || !strings.Contains(lines[1], "-3s") {
		t.Errorf("row %q: want control characters shown as '?' and a negative offset", lines[1])
	}
	if !strings.Contains(lines[1], "  -  ") {
		t.Errorf("row %q: want empty fields shown as -", lines[1])
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTimelineWriteError(t *testing.T) {
	err := WriteTimeline(failingWriter{}, []Event{{Time: pushed, EventID: "1"}}, pushed)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
}
