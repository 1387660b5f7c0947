package pushhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Push is a decoded push event, the same shape for GitHub and Gitea.
type Push struct {
	// Provider is ProviderGitHub or ProviderGitea.
	Provider string `json:"provider"`
	// DeliveryID is the X-GitHub-Delivery or X-Gitea-Delivery header.
	DeliveryID string `json:"delivery_id,omitempty"`
	// Ref is the full ref name, such as refs/heads/main.
	Ref string `json:"ref"`
	// Before and After are the old and new object IDs; all zeros mean the
	// ref was created (Before) or deleted (After).
	Before string `json:"before"`
	After  string `json:"after"`
	// Created, Deleted and Forced come from the payload when present
	// (GitHub) and are otherwise derived from Before and After (Gitea,
	// which cannot tell a forced push: Forced is then false).
	Created bool `json:"created"`
	Deleted bool `json:"deleted"`
	Forced  bool `json:"forced"`
	// Compare is the compare URL (GitHub compare, Gitea compare_url).
	Compare    string     `json:"compare,omitempty"`
	Repository Repository `json:"repository"`
	// Pusher is "name <email>", or just the name or login when there is
	// no email.
	Pusher  string   `json:"pusher,omitempty"`
	Commits []Commit `json:"commits"`
	// HeadCommit is the commit After points to; nil for a deletion.
	HeadCommit *Commit `json:"head_commit,omitempty"`
	// PushedAt is repository.pushed_at when the payload has it (GitHub
	// sends Unix seconds in push events, RFC 3339 elsewhere); zero
	// otherwise, including for Gitea. It is the sender's claim, so
	// compare it with ReceivedAt before trusting it.
	PushedAt time.Time `json:"pushed_at,omitzero"`
	// ReceivedAt is when Verifier.Parse accepted the delivery.
	ReceivedAt time.Time `json:"received_at"`

	replayKeys []string // what the replay cache recorded, for Forget
}

// Repository identifies the pushed repository.
type Repository struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url,omitempty"`
	HTMLURL  string `json:"html_url,omitempty"`
}

// Commit is one pushed commit. The payload lists changed paths only; the
// content has to be fetched to be scanned.
type Commit struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	URL       string `json:"url,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	// Author is "name <email>".
	Author   string   `json:"author,omitempty"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

// Branch returns the branch name for a refs/heads/ ref, or "".
func (p Push) Branch() string {
	if b, ok := strings.CutPrefix(p.Ref, "refs/heads/"); ok {
		return b
	}
	return ""
}

// wirePush is the union of GitHub's and Gitea's push payloads.
type wirePush struct {
	Ref        string       `json:"ref"`
	Before     string       `json:"before"`
	After      string       `json:"after"`
	Created    *bool        `json:"created"`
	Deleted    *bool        `json:"deleted"`
	Forced     *bool        `json:"forced"`
	Compare    string       `json:"compare"`
	CompareURL string       `json:"compare_url"`
	Repository *wireRepo    `json:"repository"`
	Pusher     *wirePerson  `json:"pusher"`
	Commits    []wireCommit `json:"commits"`
	HeadCommit *wireCommit  `json:"head_commit"`
}

type wireRepo struct {
	Repository
	PushedAt json.RawMessage `json:"pushed_at"`
}

type wirePerson struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Login    string `json:"login"`
	Username string `json:"username"`
	FullName string `json:"full_name"`
}

type wireCommit struct {
	ID        string      `json:"id"`
	Message   string      `json:"message"`
	URL       string      `json:"url"`
	Timestamp string      `json:"timestamp"`
	Author    *wirePerson `json:"author"`
	Added     []string    `json:"added"`
	Modified  []string    `json:"modified"`
	Removed   []string    `json:"removed"`
}

// decodePush decodes and validates a GitHub or Gitea push payload.
func decodePush(payload []byte) (Push, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Push{}, fmt.Errorf("%w: push payload is not a JSON object", ErrMalformed)
	}
	var w wirePush
	if err := json.Unmarshal(payload, &w); err != nil {
		return Push{}, fmt.Errorf("%w: decode push payload: %w", ErrMalformed, jsonError(err))
	}
	if err := w.validate(); err != nil {
		return Push{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}

	p := Push{
		Ref:        w.Ref,
		Before:     strings.ToLower(w.Before),
		After:      strings.ToLower(w.After),
		Created:    orDefault(w.Created, isZeroID(w.Before)),
		Deleted:    orDefault(w.Deleted, isZeroID(w.After)),
		Forced:     orDefault(w.Forced, false),
		Compare:    firstNonEmpty(w.Compare, w.CompareURL),
		Repository: w.Repository.Repository,
		PushedAt:   parseTime(w.Repository.PushedAt),
		Pusher:     w.Pusher.String(),
		Commits:    make([]Commit, 0, len(w.Commits)),
	}
	for _, c := range w.Commits {
		p.Commits = append(p.Commits, c.commit())
	}
	if w.HeadCommit != nil && w.HeadCommit.ID != "" {
		hc := w.HeadCommit.commit()
		p.HeadCommit = &hc
	}
	return p, nil
}

func (w *wirePush) validate() error {
	if !strings.HasPrefix(w.Ref, "refs/") {
		return fmt.Errorf("ref %q is not a full ref name", truncate(w.Ref, 64))
	}
	if !isObjectID(w.Before) {
		return fmt.Errorf("before %q is not an object ID", truncate(w.Before, 80))
	}
	if !isObjectID(w.After) {
		return fmt.Errorf("after %q is not an object ID", truncate(w.After, 80))
	}
	if isZeroID(w.Before) && isZeroID(w.After) {
		return errors.New("before and after are both zero")
	}
	if w.Repository == nil || w.Repository.FullName == "" {
		return errors.New("no repository.full_name")
	}
	for i, c := range w.Commits {
		if !isObjectID(c.ID) {
			return fmt.Errorf("commits[%d].id %q is not an object ID", i, truncate(c.ID, 80))
		}
	}
	if w.HeadCommit != nil && w.HeadCommit.ID != "" && !isObjectID(w.HeadCommit.ID) {
		return fmt.Errorf("head_commit.id %q is not an object ID", truncate(w.HeadCommit.ID, 80))
	}
	return nil
}

func (c wireCommit) commit() Commit {
	return Commit{
		ID:        strings.ToLower(c.ID),
		Message:   c.Message,
		URL:       c.URL,
		Timestamp: c.Timestamp,
		Author:    c.Author.String(),
		Added:     nonNil(c.Added),
		Modified:  nonNil(c.Modified),
		Removed:   nonNil(c.Removed),
	}
}

// String formats a person as "name <email>", falling back from name to
// login, username and full name (GitHub's pusher name is the login;
// Gitea's pusher is a user with login, username and full_name).
func (p *wirePerson) String() string {
	if p == nil {
		return ""
	}
	name := firstNonEmpty(p.Name, p.Login, p.Username, p.FullName)
	switch {
	case p.Email == "":
		return name
	case name == "":
		return "<" + p.Email + ">"
	default:
		return name + " <" + p.Email + ">"
	}
}

// isObjectID reports whether s is a SHA-1 (40) or SHA-256 (64) hex ID.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isZeroID(s string) bool {
	return isObjectID(s) && strings.Trim(s, "0") == ""
}

// jsonError drops the offending literal from a type error (it may be a
// secret someone pasted into a commit message) and keeps its position.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("field %q: want %s at offset %d", typeErr.Field, typeErr.Type, typeErr.Offset)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("invalid JSON at offset %d", syntaxErr.Offset)
	}
	return err
}

// parseTime reads a Unix-seconds number or an RFC 3339 string, and gives
// the zero time for anything else: a bad timestamp does not make a push
// invalid.
func parseTime(raw json.RawMessage) time.Time {
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		if secs <= 0 || secs > 1<<40 {
			return time.Time{}
		}
		// GitHub sends whole seconds; LeakGuard's own hook sends fractions.
		return time.Unix(0, int64(secs*1e9)).Truncate(time.Millisecond).UTC()
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func orDefault(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
