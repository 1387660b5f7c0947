// Package audit records every action LeakGuard takes against a cloud
// account: what was done, to what, when, by whom, the provider's request
// ID and the outcome. The log is append-only JSON lines, synced to disk
// after each entry, so a crash loses nothing that was reported as done.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Outcomes of an audited step.
const (
	Done    = "done"             // the step changed something
	Already = "already in place" // nothing to change: the state was already as wanted
	Planned = "planned"          // dry run: the step would run
	Failed  = "failed"
	Checked = "checked" // a read-only verification that passed
	Refused = "refused" // a precondition did not hold, nothing was changed
	// Unavailable: this way of doing the step does not exist here (a
	// managed policy missing from the partition, no room for another); the
	// next entry shows the fallback taken.
	Unavailable = "unavailable"
)

// Entry is one audited step.
type Entry struct {
	Time      time.Time `json:"time"`
	Incident  string    `json:"incident,omitempty"`
	KeyID     string    `json:"key_id"` // an access key ID; never the secret
	Account   string    `json:"account,omitempty"`
	Principal string    `json:"principal,omitempty"` // user or role acted upon
	Actor     string    `json:"actor,omitempty"`     // who ran LeakGuard
	Step      string    `json:"step"`                // e.g. "attach-quarantine"
	Action    string    `json:"action,omitempty"`    // the API call, e.g. "iam:AttachUserPolicy"
	Target    string    `json:"target,omitempty"`    // e.g. the policy ARN
	RequestID string    `json:"request_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// Recorder stores audit entries.
type Recorder interface {
	Record(ctx context.Context, e Entry) error
}

// File is an append-only JSON-lines audit log.
type File struct {
	mu sync.Mutex
	f  *os.File
}

// Open opens (creating with mode 0600) the audit log at path for appending.
func Open(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &File{f: f}, nil
}

// Record appends e and syncs the file.
func (l *File) Record(_ context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync audit log: %w", err)
	}
	return nil
}

// Close closes the log.
func (l *File) Close() error { return l.f.Close() }

// Read parses an audit log. A torn last line (a crash mid-write) is
// ignored; any other malformed line is an error naming its number.
func Read(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	var pending error
	for sc.Scan() {
		n++
		if pending != nil {
			return nil, pending
		}
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			pending = fmt.Errorf("audit log line %d: %w", n, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// ReadFile is Read on a file; a missing file is an empty log.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// Memory keeps entries in memory, for callers that render them afterwards
// and for tests.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
}

// Record appends e.
func (m *Memory) Record(_ context.Context, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return nil
}

// Entries returns a copy of the recorded entries.
func (m *Memory) Entries() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Entry(nil), m.entries...)
}
