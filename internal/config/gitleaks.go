package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/leakguard/leakguard/internal/rules"
)

// The gitleaks v8 configuration schema, as far as it changes detection.
type gitleaksFile struct {
	Title  string `toml:"title"`
	Extend struct {
		Path          string   `toml:"path"`
		URL           string   `toml:"url"`
		UseDefault    bool     `toml:"useDefault"`
		DisabledRules []string `toml:"disabledRules"`
	} `toml:"extend"`
	Rules      []gitleaksRule      `toml:"rules"`
	Allowlist  *gitleaksAllowlist  `toml:"allowlist"`
	Allowlists []gitleaksAllowlist `toml:"allowlists"`
}

type gitleaksRule struct {
	ID          string              `toml:"id"`
	Description string              `toml:"description"`
	Regex       string              `toml:"regex"`
	SecretGroup int                 `toml:"secretGroup"`
	Entropy     float64             `toml:"entropy"`
	Keywords    []string            `toml:"keywords"`
	Path        string              `toml:"path"`
	Tags        []string            `toml:"tags"`
	Allowlist   *gitleaksAllowlist  `toml:"allowlist"`
	Allowlists  []gitleaksAllowlist `toml:"allowlists"`
}

type gitleaksAllowlist struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	Stopwords   []string `toml:"stopwords"`
	Commits     []string `toml:"commits"`
	TargetRules []string `toml:"targetRules"`
}

// looksLikeGitleaks spots keys only gitleaks' dialect uses.
func looksLikeGitleaks(b []byte) bool {
	for _, k := range []string{"secretGroup", "useDefault", "[allowlist]", "[[allowlists]]", "[rules.allowlist]", "[[rules.allowlists]]", "title", "regexTarget", "disabledRules", "tags"} {
		if bytes.Contains(b, []byte(k)) {
			return true
		}
	}
	return false
}

func parseGitleaks(b []byte) (*Config, error) {
	var f gitleaksFile
	if _, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return nil, err
	}
	if f.Extend.Path != "" || f.Extend.URL != "" {
		return nil, fmt.Errorf("[extend] path/url is not supported: merge the extended file into this one")
	}
	c := &Config{UseDefault: f.Extend.UseDefault, DisabledRules: f.Extend.DisabledRules, Format: "gitleaks"}
	// A gitleaks config without [extend] replaces the default rules.
	global := f.Allowlists
	if f.Allowlist != nil {
		global = append(global, *f.Allowlist)
	}
	for _, a := range global {
		if len(a.TargetRules) > 0 {
			continue // applied per rule below
		}
		c.Allow.Paths = append(c.Allow.Paths, a.Paths...)
		c.Allow.Stopwords = append(c.Allow.Stopwords, a.Stopwords...)
		if a.RegexTarget == "" || a.RegexTarget == "secret" {
			c.Allow.Regexes = append(c.Allow.Regexes, a.Regexes...)
		}
	}
	for _, gr := range f.Rules {
		r := rules.Rule{
			ID:          strings.ToLower(gr.ID),
			Description: gr.Description,
			Keywords:    gr.Keywords,
			Regex:       gr.Regex,
			SecretGroup: gr.SecretGroup,
			Entropy:     gr.Entropy,
			Path:        gr.Path,
			Confidence:  rules.Medium,
		}
		als := gr.Allowlists
		if gr.Allowlist != nil {
			als = append(als, *gr.Allowlist)
		}
		for _, a := range global {
			for _, id := range a.TargetRules {
				if id == gr.ID {
					als = append(als, a)
				}
			}
		}
		for _, a := range als {
			if a.RegexTarget == "" || a.RegexTarget == "secret" || a.RegexTarget == "match" {
				r.Allow = append(r.Allow, a.Regexes...)
			}
			for _, w := range a.Stopwords {
				r.Allow = append(r.Allow, "(?i)"+regexp.QuoteMeta(w))
			}
			r.SkipPaths = append(r.SkipPaths, a.Paths...)
		}
		// gitleaks runs a rule's pattern over the whole file once a
		// keyword is in it. Patterns that can span lines get a wide
		// window; the rest see the keyword's line, as most secrets sit on
		// one line with their keyword.
		r.Window = 512
		if spansLines(gr.Regex) {
			r.Window = 16384
		}
		c.Rules = append(c.Rules, r)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// spansLines reports whether a pattern may match across a newline.
func spansLines(re string) bool {
	for _, t := range []string{`(?s`, `[\s\S`, `[\S\s`, `\n`, `\r`, `[\s`} {
		if strings.Contains(re, t) {
			return true
		}
	}
	return false
}
