// Package config reads LeakGuard's configuration file (.leakguard.toml):
// custom rules, rules to turn off, and allowlists of paths, secret regexes,
// stopwords and fingerprints. It also reads a gitleaks configuration as
// is, so teams can switch without rewriting their rules.
package config

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"

	"github.com/BurntSushi/toml"
	"github.com/leakguard/leakguard/internal/rules"
)

// FileName is the configuration file looked for in a scanned directory.
const FileName = ".leakguard.toml"

// Config is a parsed configuration.
type Config struct {
	// UseDefault keeps the built-in catalogue (default true).
	UseDefault bool
	// DisabledRules are rule IDs not to run.
	DisabledRules []string
	// Rules are added to (or, with the same ID, replace) the catalogue's.
	Rules []rules.Rule
	// Allow applies to every rule.
	Allow Allowlist
	// Format says which dialect the file was read as: "leakguard" or "gitleaks".
	Format string
}

// Allowlist suppresses findings.
type Allowlist struct {
	Paths        []string `toml:"paths"`        // regexes on the path
	Regexes      []string `toml:"regexes"`      // regexes on the secret
	Stopwords    []string `toml:"stopwords"`    // substrings of the secret
	Fingerprints []string `toml:"fingerprints"` // lg1:... fingerprints
}

// Default is the configuration used when there is no file.
func Default() *Config { return &Config{UseDefault: true, Format: "leakguard"} }

type leakguardFile struct {
	Extend struct {
		UseDefault    *bool    `toml:"use_default"`
		DisabledRules []string `toml:"disabled_rules"`
	} `toml:"extend"`
	Rules     []rules.Rule `toml:"rules"`
	Allowlist Allowlist    `toml:"allowlist"`
}

// Parse reads a configuration in LeakGuard's dialect or, failing that, in
// gitleaks' dialect. It returns the LeakGuard error when neither fits.
func Parse(r io.Reader) (*Config, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, lgErr := parseLeakGuard(b)
	if lgErr == nil {
		return c, nil
	}
	if looksLikeGitleaks(b) {
		c, err := parseGitleaks(b)
		if err != nil {
			return nil, fmt.Errorf("gitleaks config: %w", err)
		}
		return c, nil
	}
	return nil, lgErr
}

func parseLeakGuard(b []byte) (*Config, error) {
	var f leakguardFile
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&f)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("config: unknown key %q", und[0].String())
	}
	c := Default()
	if f.Extend.UseDefault != nil {
		c.UseDefault = *f.Extend.UseDefault
	}
	c.DisabledRules = f.Extend.DisabledRules
	c.Rules = f.Rules
	c.Allow = f.Allowlist
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks rules and allowlist patterns.
func (c *Config) Validate() error {
	for i := range c.Rules {
		c.Rules[i] = rules.Normalized(c.Rules[i])
		if err := c.Rules[i].Check(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	for _, p := range append(slices.Clone(c.Allow.Paths), c.Allow.Regexes...) {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("config: allowlist: %w", err)
		}
	}
	return nil
}

// Apply merges the configuration with the catalogue: the rules to run.
func (c *Config) Apply(catalogue []rules.Rule) ([]rules.Rule, error) {
	var out []rules.Rule
	custom := map[string]bool{}
	for _, r := range c.Rules {
		custom[r.ID] = true
	}
	if c.UseDefault {
		for _, r := range catalogue {
			if !custom[r.ID] {
				out = append(out, r)
			}
		}
	}
	out = append(out, c.Rules...)
	known := map[string]bool{}
	for _, r := range out {
		known[r.ID] = true
	}
	for _, id := range c.DisabledRules {
		if !known[id] {
			return nil, fmt.Errorf("config: disabled rule %q does not exist", id)
		}
	}
	out = slices.DeleteFunc(out, func(r rules.Rule) bool { return slices.Contains(c.DisabledRules, r.ID) })
	if err := rules.Validate(out); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return out, nil
}

// PathExcluded returns a function reporting whether the allowlist skips a path.
func (c *Config) PathExcluded() func(string) bool {
	var res []*regexp.Regexp
	for _, p := range c.Allow.Paths {
		res = append(res, regexp.MustCompile(p))
	}
	return func(p string) bool {
		for _, re := range res {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
}

// SecretRegexes compiles the allowlist's secret regexes.
func (c *Config) SecretRegexes() []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, p := range c.Allow.Regexes {
		res = append(res, regexp.MustCompile(p))
	}
	return res
}
