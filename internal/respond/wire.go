package respond

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awscloudtrail "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/support"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/notify"
	"github.com/leakguard/leakguard/internal/ticket"
)

// Deps are what a playbook needs from its environment.
type Deps struct {
	Getenv     func(string) string // secrets named by *_env settings
	HTTPClient *http.Client        // webhooks; nil means http.DefaultClient
	SMTPTLS    *tls.Config         // nil means the system roots
	Logger     *slog.Logger
	Audit      audit.Recorder
	History    func(incident string) ([]audit.Entry, error)
	Actor      string
	Version    string
	// AWS is the responder's own identity; zero means it is loaded from the
	// standard AWS environment (variables, shared config, instance role)
	// with the configured region, profile and endpoint.
	AWS *aws.Config
}

// LoadAWS loads LeakGuard's own AWS identity as configured.
func (c *Config) LoadAWS(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.AWS.Region)}
	if c.AWS.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.AWS.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if c.AWS.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.AWS.Endpoint)
	}
	return cfg, nil
}

// Playbook wires a playbook from the configuration.
func (c *Config) Playbook(ctx context.Context, d Deps) (*Playbook, error) {
	base := d.AWS
	if base == nil {
		cfg, err := c.LoadAWS(ctx)
		if err != nil {
			return nil, err
		}
		base = &cfg
	}
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	r := &containment.Responder{
		Base: *base, Accounts: c.Accounts(), DefaultPolicy: containment.Policy(c.AWS.DefaultPolicy),
		Audit: d.Audit, Actor: d.Actor, Logger: d.Logger, Version: d.Version,
		CheckTimeout: c.AWS.CheckTimeout.Duration, RequestsPerSecond: c.AWS.RequestsPerSecond,
	}
	p := &Playbook{
		Responder: r, Audit: d.Audit, History: d.History, Logger: d.Logger,
		NotifyAttempts: c.Notify.Attempts, DashboardURL: c.Notify.DashboardURL,
	}
	p.Activity = func(ctx context.Context, account, keyID string, since, until time.Time) ([]cloudtrail.Event, string, error) {
		return c.activity(ctx, r, *base, account, keyID, since, until)
	}
	if c.Notify.SMTP != nil || c.Notify.SES != nil || c.Notify.Slack != nil {
		p.Channels = func(account string) ([]notify.Channel, error) { return c.channels(*base, d, getenv, account) }
	}
	if len(c.Ticket.Order) > 0 {
		if c.Ticket.Support != nil {
			p.CaseSeverity = c.Ticket.Support.Severity
		}
		p.Cases = func(account string) (ticket.Opener, error) { return c.openers(ctx, r, d, getenv, account) }
	}
	return p, nil
}

// activity reads the key's events in every configured region of its
// account, and from the central trail bucket when one is configured.
func (c *Config) activity(ctx context.Context, r *containment.Responder, base aws.Config, account, keyID string, since, until time.Time) ([]cloudtrail.Event, string, error) {
	cfg, err := r.Config(ctx, account)
	if err != nil {
		return nil, "", err
	}
	var lookups []*cloudtrail.Lookup
	for _, region := range c.CloudTrail.Regions {
		client := awscloudtrail.NewFromConfig(cfg, func(o *awscloudtrail.Options) {
			o.Region = region
			if c.CloudTrail.Endpoint != "" {
				o.BaseEndpoint = aws.String(c.CloudTrail.Endpoint)
			}
		})
		lookups = append(lookups, &cloudtrail.Lookup{API: client, Region: region})
	}
	events, w, err := cloudtrail.ActivityInRegions(ctx, lookups, keyID, since, until)
	note := w.Note
	if c.CloudTrail.Bucket != "" {
		client := s3.NewFromConfig(base, func(o *s3.Options) { o.UsePathStyle = c.AWS.Endpoint != "" })
		trail, terr := cloudtrail.ReadTrail(ctx, client, c.CloudTrail.Bucket, c.CloudTrail.Prefix, []string{account}, c.CloudTrail.Regions, keyID, since, until)
		if terr != nil {
			return events, note, fmt.Errorf("trail bucket %s: %w", c.CloudTrail.Bucket, terr)
		}
		events = merge(events, trail)
	}
	if err == nil && len(events) == 0 && note == "" {
		note = "No calls recorded yet. CloudTrail delivers events about 5 minutes after they happen; run `leakguard aws activity " + keyID + "` again later."
	}
	return events, note, err
}

func (c *Config) channels(base aws.Config, d Deps, getenv func(string) string, account string) ([]notify.Channel, error) {
	to := c.Owners(account)
	var chans []notify.Channel
	if s := c.Notify.SMTP; s != nil {
		if len(to) == 0 {
			return nil, fmt.Errorf("no owners for account %s and no notify.to", account)
		}
		ch := &notify.SMTP{Addr: s.Addr, From: s.From, To: to, Username: s.Username, TLS: s.TLS, TLSConfig: d.SMTPTLS}
		if s.PasswordEnv != "" {
			if ch.Password = getenv(s.PasswordEnv); ch.Password == "" {
				return nil, fmt.Errorf("notify.smtp: environment variable %s is empty", s.PasswordEnv)
			}
		}
		chans = append(chans, ch)
	}
	if s := c.Notify.SES; s != nil {
		cfg := base.Copy()
		if s.Region != "" {
			cfg.Region = s.Region
		}
		chans = append(chans, &notify.SES{Client: ses.NewFromConfig(cfg), From: s.From, To: to})
	}
	if s := c.Notify.Slack; s != nil {
		u := getenv(s.URLEnv)
		if u == "" {
			return nil, fmt.Errorf("notify.slack: environment variable %s is empty", s.URLEnv)
		}
		chans = append(chans, &notify.Webhook{URL: u, Client: d.HTTPClient})
	}
	return chans, nil
}

func (c *Config) openers(ctx context.Context, r *containment.Responder, d Deps, getenv func(string) string, account string) (ticket.Opener, error) {
	var chain ticket.Chain
	for _, name := range c.Ticket.Order {
		switch name {
		case "support":
			cfg, err := r.Config(ctx, account)
			if err != nil {
				return nil, err
			}
			chain = append(chain, &ticket.Support{Client: support.NewFromConfig(cfg)})
		case "webhook":
			w := &ticket.Webhook{URL: c.Ticket.Webhook.URL, Client: d.HTTPClient}
			if env := c.Ticket.Webhook.TokenEnv; env != "" {
				if w.Token = getenv(env); w.Token == "" {
					return nil, fmt.Errorf("ticket.webhook: environment variable %s is empty", env)
				}
			}
			chain = append(chain, w)
		}
	}
	return chain, nil
}

// merge joins events from two sources in time order, each event once.
func merge(a, b []cloudtrail.Event) []cloudtrail.Event {
	seen := map[string]bool{}
	var out []cloudtrail.Event
	for _, e := range append(append([]cloudtrail.Event(nil), a...), b...) {
		if e.EventID != "" && seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(x, y cloudtrail.Event) int { return x.Time.Compare(y.Time) })
	return out
}
