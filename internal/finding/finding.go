// Package finding is LeakGuard's findings model: one Finding per distinct
// secret, with every place it was seen, identified by a fingerprint of the
// secret's content so that ignores and baselines survive code moving.
package finding

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Location is one place a secret was seen.
type Location struct {
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// Decoded is the decoding path when the secret was found inside
	// encoded text (which starts at Line:Column), outermost first.
	Decoded []string `json:"decoded,omitempty"`
	// Git provenance, when the source is a repository's history.
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Email  string `json:"email,omitempty"`
	Date   string `json:"date,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Finding is one distinct secret.
type Finding struct {
	RuleID      string `json:"rule_id"`
	Description string `json:"description"`
	Provider    string `json:"provider,omitempty"`
	Confidence  string `json:"confidence"`
	// Tier is "provider" or "generic".
	Tier        string `json:"tier"`
	Fingerprint string `json:"fingerprint"`
	// Secret is redacted unless the report was made with redaction off.
	Secret string `json:"secret"`
	// Identifier is a non-secret value paired with the secret (an AWS
	// access key ID).
	Identifier string            `json:"identifier,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Hint       string            `json:"hint,omitempty"`
	Locations  []Location        `json:"locations"`

	rank int                  // confidence as a number, for merging
	seen map[locationKey]bool // Locations already recorded
}

// Fingerprint identifies a secret by its content: the same secret has the
// same fingerprint wherever it appears, and a different secret never has
// it. It is a truncated SHA-256, safe to store in ignore files.
func Fingerprint(secret string) string {
	h := sha256.Sum256([]byte("leakguard/fingerprint/v1\x00" + secret))
	return "lg1:" + hex.EncodeToString(h[:16])
}

// Redact hides a secret, keeping at most its first four characters
// (a fifth of it for short secrets) so people can tell findings apart.
func Redact(secret string) string {
	n := utf8.RuneCountInString(secret)
	keep := min(4, n/5)
	i := 0
	for k := 0; k < keep; k++ {
		_, size := utf8.DecodeRuneInString(secret[i:])
		i += size
	}
	return secret[:i] + "*****"
}

// Rule is what the collector needs to know of the rule behind a match.
type Rule struct {
	ID, Description, Provider, Hint string
	Generic                         bool
}

// Candidate is one sighting of a secret, as the scanner reports it.
type Candidate struct {
	Rule       Rule
	Secret     string
	Identifier string
	Confidence int // 1 low, 2 medium, 3 high
	Attributes map[string]string
	Location   Location
}

var confidenceNames = [...]string{"", "low", "medium", "high"}

// Set collects candidates into findings. It is safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	byFP   map[string]*Finding
	secret map[string]string // fingerprint -> plaintext, kept in memory only
	skip   map[string]bool
}

// NewSet returns a Set that drops secrets whose fingerprint is in skip
// (from an ignore file or a baseline).
func NewSet(skip map[string]bool) *Set {
	return &Set{byFP: map[string]*Finding{}, secret: map[string]string{}, skip: skip}
}

// Add records a candidate. It reports whether the candidate was kept
// (false when its fingerprint is ignored).
func (s *Set) Add(c Candidate) bool {
	fp := Fingerprint(c.Secret)
	if s.skip[fp] {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.byFP[fp]
	if !ok {
		f = &Finding{Fingerprint: fp}
		s.byFP[fp] = f
		s.secret[fp] = c.Secret
	}
	if !ok || c.Confidence > f.rank {
		// The most confident rule names the finding.
		f.rank = c.Confidence
		f.RuleID, f.Description, f.Provider, f.Hint = c.Rule.ID, c.Rule.Description, c.Rule.Provider, c.Rule.Hint
		f.Confidence = confidenceNames[max(0, min(3, c.Confidence))]
		f.Tier = "provider"
		if c.Rule.Generic {
			f.Tier = "generic"
		}
		if c.Identifier != "" {
			f.Identifier = c.Identifier
		}
	}
	for k, v := range c.Attributes {
		if f.Attributes == nil {
			f.Attributes = map[string]string{}
		}
		f.Attributes[k] = v
	}
	key := locationKey{c.Location.Path, c.Location.Line, c.Location.Column, c.Location.Commit}
	if f.seen[key] {
		return true
	}
	if f.seen == nil {
		f.seen = map[locationKey]bool{}
	}
	f.seen[key] = true
	f.Locations = append(f.Locations, c.Location)
	return true
}

// locationKey identifies a location: the same place seen twice (a blob
// met through two commits, a chunk overlap) is one location.
type locationKey struct {
	path      string
	line, col int
	commit    string
}

// Len returns the number of distinct secrets.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byFP)
}

// Findings returns the findings sorted by first location, each with its
// locations in order. The secret is redacted unless redact is false.
func (s *Set) Findings(redact bool) []Finding {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Finding, 0, len(s.byFP))
	for fp, f := range s.byFP {
		c := *f
		c.seen = nil
		c.Locations = slices.Clone(f.Locations)
		slices.SortFunc(c.Locations, compareLocations)
		c.Secret = s.secret[fp]
		if redact {
			c.Secret = Redact(c.Secret)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Finding) int {
		if c := compareLocations(a.Locations[0], b.Locations[0]); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out
}

func compareLocations(a, b Location) int {
	// Git locations sort by date (first introduction first), then path.
	return cmp.Or(
		strings.Compare(a.Date, b.Date),
		strings.Compare(a.Path, b.Path),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		strings.Compare(a.Commit, b.Commit),
	)
}
