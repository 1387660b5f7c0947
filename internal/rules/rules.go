// Package rules defines LeakGuard's detection rules: the embedded catalogue
// of provider and generic rules, user rules from .leakguard.toml, and rules
// loaded from a gitleaks configuration. A rule is data; the detect package
// compiles and runs it.
package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Confidence says how sure a rule is that a match is a live credential.
type Confidence int

// Confidence levels, from least to most certain.
const (
	Low    Confidence = 1 // generic tier: a keyword and an entropic value
	Medium Confidence = 2 // a provider format without a built-in check
	High   Confidence = 3 // a provider format whose checksum or structure was verified
)

func (c Confidence) String() string {
	switch c {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return fmt.Sprintf("confidence(%d)", int(c))
}

// ParseConfidence parses "low", "medium" or "high".
func ParseConfidence(s string) (Confidence, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low":
		return Low, nil
	case "medium", "":
		return Medium, nil
	case "high":
		return High, nil
	}
	return 0, fmt.Errorf("confidence %q: want low, medium or high", s)
}

// MarshalText implements encoding.TextMarshaler.
func (c Confidence) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Confidence) UnmarshalText(b []byte) error {
	v, err := ParseConfidence(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Rule is one detection rule.
type Rule struct {
	// ID is stable and unique, lower-case words joined by hyphens.
	ID string `toml:"id"`
	// Description names the credential, for people.
	Description string `toml:"description"`
	// Provider groups rules of one service ("aws", "github").
	Provider string `toml:"provider"`
	// Keywords are matched case-insensitively, and the pattern only runs
	// in a window around a keyword hit: that is what makes scanning fast.
	// A rule without keywords runs over every byte of the input (allowed
	// for imported gitleaks rules).
	Keywords []string `toml:"keywords"`
	// Regex is an RE2 pattern. A rule with a Path and no Regex is a
	// path-only rule: it reports every file whose path matches (a .p12
	// keystore), identified by a hash of the file's content.
	Regex string `toml:"regex"`
	// SecretGroup is the capture group holding the secret; 0 means group 1
	// when the pattern has groups, else the whole match.
	SecretGroup int `toml:"secret_group"`
	// Entropy is the minimum Shannon entropy (bits per byte) of the secret.
	Entropy float64 `toml:"entropy"`
	// Validator names a check in package detect ("github-crc32", "jwt", ...).
	Validator string `toml:"validator"`
	// Confidence of a match that passes every check.
	Confidence Confidence `toml:"confidence"`
	// Generic marks the lower-confidence generic tier (password = "...").
	Generic bool `toml:"generic"`
	// Window is how far from a keyword hit the pattern may reach (default
	// 512). Up to 512 the pattern sees the keyword's line only; a larger
	// window spans lines (PEM blocks, JSON documents, .netrc entries).
	Window int `toml:"window"`
	// Pair describes a second value found near the first (an AWS key ID's
	// secret key). When found, it becomes the finding's secret and the first
	// value its identifier.
	Pair *Pair `toml:"pair"`
	// Hint is one line on what to do about a leak.
	Hint string `toml:"hint"`
	// Allow lists regexes; a secret matching any of them is not reported.
	Allow []string `toml:"allow"`
	// Path, if set, is a regex: the rule only runs on matching paths.
	Path string `toml:"path"`
	// SkipPaths are regexes of paths where the rule does not run.
	SkipPaths []string `toml:"skip_paths"`
	// Examples must each yield a finding of this rule; CounterExamples
	// must not. Both are used by the tests.
	Examples        []string `toml:"examples"`
	CounterExamples []string `toml:"counter_examples"`
}

// Pair is a companion value searched near a rule's match.
type Pair struct {
	Regex       string  `toml:"regex"`
	SecretGroup int     `toml:"secret_group"`
	Entropy     float64 `toml:"entropy"`
	// Within is how many bytes before and after the first match to search.
	Within int `toml:"within"`
	// Required drops the first match when no pair is found.
	Required bool `toml:"required"`
}

// File is the shape of a rules file.
type File struct {
	Rules []Rule `toml:"rules"`
}

//go:embed catalogue/*.toml
var catalogue embed.FS

// Default returns the embedded catalogue, validated, sorted by ID.
func Default() ([]Rule, error) {
	var all []Rule
	err := fs.WalkDir(catalogue, "catalogue", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := catalogue.ReadFile(path)
		if err != nil {
			return err
		}
		rs, err := Parse(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		all = append(all, rs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load rule catalogue: %w", err)
	}
	if err := Validate(all); err != nil {
		return nil, fmt.Errorf("rule catalogue: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, nil
}

// Parse decodes a LeakGuard rules document ([[rules]] tables).
func Parse(doc string) ([]Rule, error) {
	var f File
	md, err := toml.Decode(doc, &f)
	if err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("parse rules: unknown key %q", und[0].String())
	}
	for i := range f.Rules {
		f.Rules[i] = Normalized(f.Rules[i])
	}
	return f.Rules, nil
}

// Normalized returns r with defaults filled in and keywords lower-cased.
func Normalized(r Rule) Rule {
	r.Keywords = slices.Clone(r.Keywords)
	r.normalize()
	return r
}

func (r *Rule) normalize() {
	if r.Confidence == 0 {
		if r.Generic {
			r.Confidence = Low
		} else {
			r.Confidence = Medium
		}
	}
	if r.Window == 0 {
		r.Window = 512
	}
	for i, k := range r.Keywords {
		r.Keywords[i] = strings.ToLower(k)
	}
	if r.Pair != nil && r.Pair.Within == 0 {
		r.Pair.Within = 1024
	}
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks every rule on its own and that IDs are unique.
func Validate(rs []Rule) error {
	seen := make(map[string]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		if err := r.Check(); err != nil {
			return err
		}
		if seen[r.ID] {
			return fmt.Errorf("rule %s: duplicate id", r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// Check validates one rule: its id, pattern, secret group and keywords.
func (r *Rule) Check() error {
	if !idPattern.MatchString(r.ID) {
		return fmt.Errorf("rule %q: id must be lower-case words joined by hyphens", r.ID)
	}
	if r.Regex == "" && r.Path == "" {
		return fmt.Errorf("rule %s: needs a regex, a path, or both", r.ID)
	}
	re, err := regexp.Compile(r.Regex)
	if err != nil {
		return fmt.Errorf("rule %s: %w", r.ID, err)
	}
	if r.SecretGroup < 0 || r.SecretGroup > re.NumSubexp() {
		return fmt.Errorf("rule %s: secret_group %d but the pattern has %d groups", r.ID, r.SecretGroup, re.NumSubexp())
	}
	for _, k := range r.Keywords {
		if len(k) < 2 {
			return fmt.Errorf("rule %s: keyword %q is shorter than 2 bytes", r.ID, k)
		}
	}
	if r.Entropy < 0 || r.Entropy > 8 {
		return fmt.Errorf("rule %s: entropy %v out of range 0..8", r.ID, r.Entropy)
	}
	if r.Window < 0 || r.Window > 1<<20 {
		return fmt.Errorf("rule %s: window %d out of range", r.ID, r.Window)
	}
	for _, a := range append(append(slices.Clone(r.Allow), r.SkipPaths...), r.Path) {
		if _, err := regexp.Compile(a); err != nil {
			return fmt.Errorf("rule %s: %w", r.ID, err)
		}
	}
	if p := r.Pair; p != nil {
		pre, err := regexp.Compile(p.Regex)
		if err != nil {
			return fmt.Errorf("rule %s: pair: %w", r.ID, err)
		}
		if p.SecretGroup < 0 || p.SecretGroup > pre.NumSubexp() {
			return fmt.Errorf("rule %s: pair secret_group %d out of range", r.ID, p.SecretGroup)
		}
	}
	return nil
}
