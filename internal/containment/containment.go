// Package containment contains leaked AWS access keys the way AWS does
// when GitHub reports one, only faster and, where configured, stronger:
// it identifies the key's account and owner, optionally proves whether the
// key is live, applies a containment policy (the AWS managed quarantine
// policy, deactivation, an inline deny-all, or session revocation for
// temporary keys), checks that it holds, and releases it only once the key
// is rotated. Every step is idempotent and written to an audit log.
package containment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/clock"
)

// Policy is how strongly a leaked key is contained.
type Policy string

// Containment policies.
const (
	// Quarantine attaches AWSCompromisedKeyQuarantineV3 (else V2, else a
	// customer managed copy of it) to the key's user, as AWS does.
	Quarantine Policy = "quarantine"
	// Deactivate quarantines, sets the key Inactive and revokes sessions
	// the user minted before containment.
	Deactivate Policy = "deactivate"
	// DenyAll puts an inline policy denying every action on the user.
	DenyAll Policy = "deny-all"
	// RevokeSessions denies every session issued before containment. It is
	// what temporary (ASIA) keys get, whatever the account's policy.
	RevokeSessions Policy = "revoke-sessions"
)

// ParsePolicy validates a policy name from configuration.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case Quarantine, Deactivate, DenyAll:
		return p, nil
	}
	return "", fmt.Errorf("unknown containment policy %q (want quarantine, deactivate or deny-all)", s)
}

// Account is a configured AWS account LeakGuard may act in.
type Account struct {
	ID         string
	Name       string
	RoleARN    string // role the responder assumes in this account; empty means its own identity, which must belong to this account
	ExternalID string
	Policy     Policy // empty means Quarantine
}

// Errors callers branch on.
var (
	ErrNoAccountRole = errors.New("no role configured for the key's account")
	ErrKeyActive     = errors.New("the leaked key is still active")
	ErrRootKey       = errors.New("root user access key")
	ErrNotContained  = errors.New("containment does not hold")
	ErrNoPrincipal   = errors.New("cannot tell which principal a temporary key belongs to")
)

// Responder acts on leaked keys. Its zero value is not usable: set Base.
type Responder struct {
	// Base is the responder's own AWS identity and endpoint settings. Roles
	// in configured accounts are assumed from it.
	Base aws.Config
	// Accounts lists the accounts LeakGuard may act in.
	Accounts []Account
	// DefaultPolicy applies to accounts without a policy of their own
	// (default Quarantine).
	DefaultPolicy Policy
	// Audit receives every step. Required.
	Audit audit.Recorder
	// Actor names who is acting, for the audit log (a user or "leakguard serve").
	Actor string
	// Logger, Now and Sleep default to slog.Default, time.Now and a
	// context-aware sleep.
	Logger *slog.Logger
	Now    func() time.Time
	Sleep  func(context.Context, time.Duration) error
	// CheckTimeout bounds how long the check waits for a policy change to
	// take effect (IAM is eventually consistent); default 60s.
	CheckTimeout time.Duration
	// RequestsPerSecond caps IAM and STS calls per account (default 20),
	// so that many containments at once stay within AWS's API limits.
	RequestsPerSecond float64
	// Version goes into the User-Agent of every call ("leakguard/VERSION"),
	// so LeakGuard's own calls are recognisable in CloudTrail.
	Version string

	mu       sync.Mutex
	accounts map[string]*accountClients
	self     string // the Base identity's account, once known
	limiters map[string]*limiter
}

type accountClients struct {
	cfg aws.Config
	iam *iam.Client
	sts *sts.Client
}

func (r *Responder) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Responder) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Responder) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

func (r *Responder) account(id string) (Account, bool) {
	for _, a := range r.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

// configure prepares an SDK config for one account: retries with backoff
// on throttling, a per-account request rate, and the LeakGuard user agent.
func (r *Responder) configure(cfg aws.Config, account string) aws.Config {
	cfg = cfg.Copy()
	cfg.RetryMaxAttempts, cfg.RetryMode = 0, "" // they would override the retryer below
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 8
			o.MaxBackoff = 5 * time.Second
			// The client-side retry quota would fail calls outright when
			// many containments are throttled at once; backoff suffices.
			o.RateLimiter = ratelimit.None
		})
	}
	version := r.Version
	if version == "" {
		version = "dev"
	}
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...),
		awsmiddleware.AddUserAgentKeyValue("leakguard", version),
		r.limiterFor(account).middleware,
	)
	return cfg
}

// clients returns SDK clients acting in account, assuming the configured
// role when there is one.
func (r *Responder) clients(ctx context.Context, account string) (*accountClients, error) {
	r.mu.Lock()
	c, ok := r.accounts[account]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	acct, configured := r.account(account)
	var cfg aws.Config
	switch {
	case configured && acct.RoleARN != "":
		base := r.configure(r.Base, "")
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), acct.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "leakguard-responder"
			if acct.ExternalID != "" {
				o.ExternalID = aws.String(acct.ExternalID)
			}
		})
		cfg = r.Base.Copy()
		cfg.Credentials = aws.NewCredentialsCache(provider)
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("assume %s in account %s: %w", acct.RoleARN, account, err)
		}
	default:
		self, err := r.selfAccount(ctx)
		if err != nil {
			return nil, err
		}
		if self != account {
			return nil, fmt.Errorf("account %s: %w (LeakGuard runs as account %s; add [[aws.accounts]] id = %q with a role_arn)", account, ErrNoAccountRole, self, account)
		}
		cfg = r.Base
	}
	cfg = r.configure(cfg, account)
	c = &accountClients{cfg: cfg, iam: iam.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg)}
	r.mu.Lock()
	if r.accounts == nil {
		r.accounts = map[string]*accountClients{}
	}
	r.accounts[account] = c
	r.mu.Unlock()
	return c, nil
}

// Config returns the SDK configuration LeakGuard acts with in account:
// the assumed role where one is configured, with LeakGuard's retries,
// rate limit and user agent. Other services (CloudTrail, Support) use it
// to work in the leaked key's account.
func (r *Responder) Config(ctx context.Context, account string) (aws.Config, error) {
	c, err := r.clients(ctx, account)
	if err != nil {
		return aws.Config{}, err
	}
	return c.cfg, nil
}

// selfAccount is the account of the responder's own identity.
func (r *Responder) selfAccount(ctx context.Context) (string, error) {
	r.mu.Lock()
	self := r.self
	r.mu.Unlock()
	if self != "" {
		return self, nil
	}
	out, err := sts.NewFromConfig(r.configure(r.Base, "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("who is LeakGuard running as (sts:GetCallerIdentity): %w", err)
	}
	r.mu.Lock()
	r.self = aws.ToString(out.Account)
	r.mu.Unlock()
	return aws.ToString(out.Account), nil
}
