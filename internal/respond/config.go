// Package respond runs LeakGuard's response playbook for a leaked AWS key:
// contain it, rebuild its CloudTrail activity, tell the account's owner,
// and open a case. It reads the operator's configuration (accounts, roles,
// containment policies, mail and ticket channels) and wires the
// containment, cloudtrail, notify and ticket packages together.
package respond

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/leakguard/leakguard/internal/containment"
)

// Config is the operator's response configuration (TOML). Secrets are
// never written in it: fields ending in _env name environment variables.
type Config struct {
	AWS        AWSConfig        `toml:"aws"`
	CloudTrail CloudTrailConfig `toml:"cloudtrail"`
	Notify     NotifyConfig     `toml:"notify"`
	Ticket     TicketConfig     `toml:"ticket"`
	Audit      AuditConfig      `toml:"audit"`
	Serve      ServeConfig      `toml:"serve"`
}

// PartnerConfig is a secret-scanning partner's endpoint.
type PartnerConfig struct {
	Endpoint  string   `toml:"endpoint"`
	Providers []string `toml:"providers"`
}

// WatchConfig is one polled remote.
type WatchConfig struct {
	URL     string `toml:"url"`
	Name    string `toml:"name"`
	HTMLURL string `toml:"html_url"`
}

// ServeConfig configures `leakguard serve`.
type ServeConfig struct {
	Listen   string `toml:"listen"`   // default 127.0.0.1:8080
	Database string `toml:"database"` // sqlite:PATH (default sqlite:leakguard.db) or postgres://…
	Mirrors  string `toml:"mirrors"`  // bare mirrors of pushed repositories; default "mirrors"
	Workers  int    `toml:"workers"`  // concurrent jobs per node; default 4
	// WebhookSecretEnv names the variable holding the push webhooks'
	// HMAC secret (required).
	WebhookSecretEnv string `toml:"webhook_secret_env"`
	// PartnerKeysURL is where partner alert signing keys are fetched
	// (GitHub's: https://api.github.com/meta/public_keys/secret_scanning);
	// empty disables the partner endpoint.
	PartnerKeysURL string `toml:"partner_keys_url"`
	// PartnerKeyFile holds LeakGuard's own signing key for alerts it sends
	// to partners; its keys document is served at /partner/keys.
	PartnerKeyFile string `toml:"partner_key_file"`
	// MetricsTokenEnv names a variable holding a token required to scrape
	// /metrics (Bearer); empty leaves /metrics open, as is usual.
	MetricsTokenEnv string `toml:"metrics_token_env"`
	// ReportTokenEnv names the variable holding the token scanners use to
	// post findings (scan --report-to); empty disables /api/findings.
	ReportTokenEnv string `toml:"report_token_env"`
	// DashboardUsersEnv names a variable of "user:password,…" pairs.
	DashboardUsersEnv string `toml:"dashboard_users_env"`
	// SessionKeyEnv names a variable with at least 32 bytes signing
	// dashboard sessions; empty: a random key per start.
	SessionKeyEnv string `toml:"session_key_env"`
	// SecureCookies marks dashboard cookies Secure: set it when users
	// reach the service over HTTPS (through a TLS-terminating proxy).
	SecureCookies bool     `toml:"secure_cookies"`
	JobTimeout    Duration `toml:"job_timeout"`
	// AllowLocalRemotes lets pushes name local paths or file:// URLs as
	// clone URLs (single-host setups with `hook post-receive`); off, only
	// network transports are fetched.
	AllowLocalRemotes bool `toml:"allow_local_remotes"`
	// AllowFingerprints are secrets known to be harmless (test keys):
	// recorded as dismissed, never acted upon.
	AllowFingerprints []string `toml:"allow_fingerprints"`
	// Partners receive the secrets of their providers found in pushes, as
	// GitHub-format alerts signed with partner_key_file.
	Partners []PartnerConfig `toml:"partners"`
	// Watch lists remotes polled for new commits (hosts without webhooks).
	Watch         []WatchConfig `toml:"watch"`
	WatchInterval Duration      `toml:"watch_interval"` // default 30s
}

// AWSConfig says how LeakGuard reaches AWS and where it may act.
type AWSConfig struct {
	Region            string          `toml:"region"`   // default us-east-1 (IAM and global STS live there)
	Endpoint          string          `toml:"endpoint"` // custom endpoint, e.g. an emulator; default AWS's
	Profile           string          `toml:"profile"`  // shared-config profile of LeakGuard's own identity
	DefaultPolicy     string          `toml:"default_policy"`
	RequestsPerSecond float64         `toml:"requests_per_second"`
	CheckTimeout      Duration        `toml:"check_timeout"`
	Accounts          []AccountConfig `toml:"accounts"`
}

// AccountConfig is one account LeakGuard may act in.
type AccountConfig struct {
	ID         string   `toml:"id"`
	Name       string   `toml:"name"`
	RoleARN    string   `toml:"role_arn"`
	ExternalID string   `toml:"external_id"`
	Policy     string   `toml:"policy"` // quarantine (default), deactivate, deny-all
	Owners     []string `toml:"owners"` // email addresses told about this account's leaks
}

// CloudTrailConfig says where a key's activity is read from.
type CloudTrailConfig struct {
	Regions  []string `toml:"regions"`  // LookupEvents regions; default us-east-1
	Endpoint string   `toml:"endpoint"` // custom CloudTrail endpoint; default aws.endpoint, then AWS's
	Lookback Duration `toml:"lookback"` // how far back to look when no time is given; default 24h
	Bucket   string   `toml:"bucket"`   // central trail bucket, optional
	Prefix   string   `toml:"prefix"`
	OrgID    string   `toml:"org_id"`
}

// NotifyConfig lists the channels owners are told through.
type NotifyConfig struct {
	To       []string     `toml:"to"` // recipients for accounts with no owners
	Attempts int          `toml:"attempts"`
	SMTP     *SMTPConfig  `toml:"smtp"`
	SES      *SESConfig   `toml:"ses"`
	Slack    *SlackConfig `toml:"slack"`
	// DashboardURL is linked from messages when set.
	DashboardURL string `toml:"dashboard_url"`
}

// SMTPConfig is a mail server.
type SMTPConfig struct {
	Addr        string `toml:"addr"` // host:port
	From        string `toml:"from"`
	Username    string `toml:"username"`
	PasswordEnv string `toml:"password_env"`
	TLS         string `toml:"tls"` // starttls (default), tls, none (loopback only)
}

// SESConfig sends mail through Amazon SES.
type SESConfig struct {
	From   string `toml:"from"`
	Region string `toml:"region"`
}

// SlackConfig is a Slack-compatible incoming webhook.
type SlackConfig struct {
	URLEnv string `toml:"url_env"`
}

// TicketConfig lists where cases are opened, in order of preference.
type TicketConfig struct {
	Order   []string       `toml:"order"` // e.g. ["support", "webhook"]
	Support *SupportConfig `toml:"support"`
	Webhook *WebhookConfig `toml:"webhook"`
}

// SupportConfig opens AWS Support cases (Business plan or higher).
type SupportConfig struct {
	Severity string   `toml:"severity"`
	CC       []string `toml:"cc"`
}

// WebhookConfig posts tickets to an intake URL.
type WebhookConfig struct {
	URL      string `toml:"url"`
	TokenEnv string `toml:"token_env"`
}

// AuditConfig says where the audit log is kept.
type AuditConfig struct {
	Path string `toml:"path"`
}

// Duration is a time.Duration written as "30s" or "24h".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", b)
	}
	d.Duration = v
	return nil
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Parse reads and validates a configuration. Every problem is reported,
// each with the setting it concerns.
func Parse(r io.Reader) (*Config, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("unknown setting %s", k))
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	c.defaults()
	return &c, nil
}

func (c *Config) defaults() {
	if c.Serve.Listen == "" {
		c.Serve.Listen = "127.0.0.1:8080"
	}
	if c.Serve.Database == "" {
		c.Serve.Database = "sqlite:leakguard.db"
	}
	if c.Serve.Mirrors == "" {
		c.Serve.Mirrors = "mirrors"
	}
	if c.Serve.WebhookSecretEnv == "" {
		c.Serve.WebhookSecretEnv = "LEAKGUARD_WEBHOOK_SECRET"
	}
	if c.Serve.DashboardUsersEnv == "" {
		c.Serve.DashboardUsersEnv = "LEAKGUARD_DASHBOARD_USERS"
	}
	if c.AWS.Region == "" {
		c.AWS.Region = "us-east-1"
	}
	if c.AWS.DefaultPolicy == "" {
		c.AWS.DefaultPolicy = string(containment.Quarantine)
	}
	if len(c.CloudTrail.Regions) == 0 {
		c.CloudTrail.Regions = []string{"us-east-1"}
	}
	if c.CloudTrail.Lookback.Duration == 0 {
		c.CloudTrail.Lookback.Duration = 24 * time.Hour
	}
	if c.Notify.Attempts == 0 {
		c.Notify.Attempts = 5
	}
	if len(c.Ticket.Order) == 0 {
		if c.Ticket.Support != nil {
			c.Ticket.Order = append(c.Ticket.Order, "support")
		}
		if c.Ticket.Webhook != nil {
			c.Ticket.Order = append(c.Ticket.Order, "webhook")
		}
	}
}

func (c *Config) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.AWS.Endpoint != "" {
		if u, err := url.Parse(c.AWS.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("aws.endpoint %q: want an http(s) URL", c.AWS.Endpoint)
		}
	}
	if c.AWS.DefaultPolicy != "" {
		if _, err := containment.ParsePolicy(c.AWS.DefaultPolicy); err != nil {
			bad("aws.default_policy: %v", err)
		}
	}
	if c.AWS.RequestsPerSecond < 0 {
		bad("aws.requests_per_second must be positive")
	}
	seen := map[string]bool{}
	for i, a := range c.AWS.Accounts {
		where := fmt.Sprintf("aws.accounts[%d]", i)
		if !accountRE.MatchString(a.ID) {
			bad("%s.id %q: want 12 digits", where, a.ID)
		}
		if seen[a.ID] {
			bad("%s.id %s: listed twice", where, a.ID)
		}
		seen[a.ID] = true
		if a.RoleARN != "" {
			if !roleARNRE.MatchString(a.RoleARN) {
				bad("%s.role_arn %q: want arn:aws:iam::ACCOUNT:role/NAME", where, a.RoleARN)
			} else if !strings.Contains(a.RoleARN, "::"+a.ID+":") {
				bad("%s.role_arn %q is not in account %s", where, a.RoleARN, a.ID)
			}
		}
		if a.Policy != "" {
			if _, err := containment.ParsePolicy(a.Policy); err != nil {
				bad("%s.policy: %v", where, err)
			}
		}
		for _, o := range a.Owners {
			if _, err := mail.ParseAddress(o); err != nil {
				bad("%s.owners %q: %v", where, o, err)
			}
		}
	}
	for _, o := range c.Notify.To {
		if _, err := mail.ParseAddress(o); err != nil {
			bad("notify.to %q: %v", o, err)
		}
	}
	if s := c.Notify.SMTP; s != nil {
		if _, _, err := net.SplitHostPort(s.Addr); err != nil {
			bad("notify.smtp.addr %q: want host:port", s.Addr)
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			bad("notify.smtp.from %q: %v", s.From, err)
		}
		switch s.TLS {
		case "", "starttls", "tls", "none":
		default:
			bad("notify.smtp.tls %q: want starttls, tls or none", s.TLS)
		}
		if s.PasswordEnv != "" && !envNameRE.MatchString(s.PasswordEnv) {
			bad("notify.smtp.password_env: not an environment variable name (the value is not shown: it may be the secret itself)")
		}
		if s.Username != "" && s.PasswordEnv == "" {
			bad("notify.smtp: username set without password_env (passwords are read from the environment, never the file)")
		}
	}
	if s := c.Notify.SES; s != nil {
		if _, err := mail.ParseAddress(s.From); err != nil {
			bad("notify.ses.from %q: %v", s.From, err)
		}
	}
	if s := c.Notify.Slack; s != nil && !envNameRE.MatchString(s.URLEnv) {
		bad("notify.slack.url_env: not an environment variable name (webhook URLs are secrets: put the URL in the environment and name the variable here; the value is not shown)")
	}
	if w := c.Ticket.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("ticket.webhook.url %q: want an http(s) URL", w.URL)
		}
		if w.TokenEnv != "" && !envNameRE.MatchString(w.TokenEnv) {
			bad("ticket.webhook.token_env: not an environment variable name (the value is not shown: it may be the token itself)")
		}
	}
	if d := c.Serve.Database; d != "" && !strings.HasPrefix(d, "sqlite:") && !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
		bad("serve.database: want sqlite:PATH or postgres://… (the value is not shown: it may hold a password)")
	}
	for _, env := range []struct{ name, v string }{{"serve.webhook_secret_env", c.Serve.WebhookSecretEnv}, {"serve.dashboard_users_env", c.Serve.DashboardUsersEnv}, {"serve.session_key_env", c.Serve.SessionKeyEnv}, {"serve.report_token_env", c.Serve.ReportTokenEnv}, {"serve.metrics_token_env", c.Serve.MetricsTokenEnv}} {
		if env.v != "" && !envNameRE.MatchString(env.v) {
			bad("%s: not an environment variable name (the value is not shown)", env.name)
		}
	}
	if u := c.Serve.PartnerKeysURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("serve.partner_keys_url %q: want an http(s) URL", u)
		}
	}
	for i, fp := range c.Serve.AllowFingerprints {
		if !strings.HasPrefix(fp, "lg1:") {
			bad("serve.allow_fingerprints[%d]: want an lg1: fingerprint (leakguard scan prints them)", i)
		}
	}
	for i, p := range c.Serve.Partners {
		if u, err := url.Parse(p.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("serve.partners[%d].endpoint %q: want an http(s) URL", i, p.Endpoint)
		}
		if len(p.Providers) == 0 {
			bad("serve.partners[%d].providers: name at least one provider (e.g. \"aws\")", i)
		}
	}
	if len(c.Serve.Partners) > 0 && c.Serve.PartnerKeyFile == "" {
		bad("serve.partners: set serve.partner_key_file, the key alerts are signed with")
	}
	for i, w := range c.Serve.Watch {
		if w.URL == "" || strings.HasPrefix(w.URL, "-") {
			bad("serve.watch[%d].url: want a git URL", i)
		}
	}
	if c.Serve.Workers < 0 {
		bad("serve.workers must be positive")
	}
	for _, o := range c.Ticket.Order {
		switch {
		case o == "support" && c.Ticket.Support != nil, o == "webhook" && c.Ticket.Webhook != nil:
		default:
			bad("ticket.order: %q is not a configured channel", o)
		}
	}
	if s := c.Ticket.Support; s != nil {
		switch s.Severity {
		case "", "low", "normal", "high", "urgent", "critical":
		default:
			bad("ticket.support.severity %q: want low, normal, high, urgent or critical", s.Severity)
		}
	}
	return errs
}

// Accounts converts the configured accounts for the responder.
func (c *Config) Accounts() []containment.Account {
	var out []containment.Account
	for _, a := range c.AWS.Accounts {
		p := containment.Policy(a.Policy)
		if p == "" {
			p = containment.Policy(c.AWS.DefaultPolicy)
		}
		out = append(out, containment.Account{ID: a.ID, Name: a.Name, RoleARN: a.RoleARN, ExternalID: a.ExternalID, Policy: p})
	}
	return out
}

// Owners returns who is told about a leak in account.
func (c *Config) Owners(account string) []string {
	for _, a := range c.AWS.Accounts {
		if a.ID == account && len(a.Owners) > 0 {
			return a.Owners
		}
	}
	return c.Notify.To
}
