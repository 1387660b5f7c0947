// Package notify tells an account owner that one of their AWS access keys
// leaked and what LeakGuard already did about it, in the spirit of AWS's
// own "ACTION REQUIRED: Your AWS Access Key is Exposed" email: which key,
// where it was found, how it was contained, what the key was used for so
// far, and the steps left to the owner.
//
// Render builds the email; Email.MIME turns it into an RFC 5322 message.
// Channels (SMTP, SES, a Slack-compatible webhook) deliver it, and a
// Notifier retries each channel with exponential backoff.
//
// Nothing in an Incident is secret: the access key ID is an identifier,
// and the secret part of a key never reaches this package.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/leakguard/leakguard/internal/clock"
	"github.com/leakguard/leakguard/internal/cloudtrail"
)

// Incident is what happened to one leaked key, as the owner is told it.
type Incident struct {
	ID           string             // LeakGuard incident ID
	KeyID        string             // AKIA…/ASIA… access key ID (an identifier, not a secret)
	Account      string             // 12-digit account ID
	AccountName  string             // optional label from config
	UserName     string             // owning IAM user, or role name for ASIA keys
	PrincipalARN string             // ARN of the owning user or role
	Live         string             // "live", "not live", "not checked"
	FoundURL     string             // public URL where it was found, may be empty
	FoundWhere   string             // e.g. "commit 1a2b3c4 in github.com/o/r, config/prod.env line 3"
	DetectedAt   time.Time          // when LeakGuard detected the leak
	Policy       string             // containment policy applied: "quarantine", "deactivate", "deny-all", "revoke-sessions"
	Actions      []Action           // what LeakGuard did, in order
	Activity     []cloudtrail.Event // the key's CloudTrail activity so far (may be empty)
	ActivityNote string             // why activity is empty or incomplete
	Summary      cloudtrail.Summary // figures condensed from Activity
	DashboardURL string             // optional link to the incident
}

// Action is one containment step LeakGuard took.
type Action struct {
	Time    time.Time
	Step    string // e.g. "attach AWSCompromisedKeyQuarantineV3"
	Outcome string // "done", "already in place", "failed"
	Detail  string // e.g. AWS request ID or error
}

// Temporary reports whether the key is a temporary (STS session) key.
func (inc Incident) Temporary() bool {
	return len(inc.KeyID) >= 4 && inc.KeyID[:4] == "ASIA"
}

// Channel delivers an incident notification to its owner.
type Channel interface {
	// Name identifies the channel in deliveries and logs.
	Name() string
	// Send delivers the notification and returns a reference to it, such
	// as a message ID. Errors that retrying cannot fix are marked with
	// Permanent.
	Send(ctx context.Context, inc Incident) (string, error)
}

// Permanent marks err as one that retrying will not fix, such as an
// invalid address, a rejected login or a server that refuses TLS.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked
// with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Delivery is the outcome of notifying through one channel.
type Delivery struct {
	Channel  string
	At       time.Time // when the last attempt ended
	Attempts int
	Ref      string // message ID or other reference, when delivered
	Err      error  // nil when delivered
}

// Notifier delivers an incident through every channel, retrying
// transient failures with exponential backoff.
type Notifier struct {
	Channels []Channel
	// Attempts is the most tries per channel; default 3.
	Attempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one (capped at 15 minutes); default 2s.
	Backoff time.Duration
	// Sleep waits between attempts; default a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives one line per failed attempt and per delivery;
	// default slog.Default().
	Logger *slog.Logger
}

const maxBackoff = 15 * time.Minute

// Notify tries every channel in turn and reports each one's outcome. The
// error is non-nil if any channel finally failed (or none is configured),
// so the caller can keep the notification pending and try again later.
func (n *Notifier) Notify(ctx context.Context, inc Incident) ([]Delivery, error) {
	if len(n.Channels) == 0 {
		return nil, fmt.Errorf("notify incident %s: no channels configured", inc.ID)
	}
	deliveries := make([]Delivery, 0, len(n.Channels))
	var errs []error
	for _, ch := range n.Channels {
		d := n.deliver(ctx, ch, inc)
		deliveries = append(deliveries, d)
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("notify incident %s via %s after %d attempt(s): %w", inc.ID, d.Channel, d.Attempts, d.Err))
		}
	}
	return deliveries, errors.Join(errs...)
}

func (n *Notifier) deliver(ctx context.Context, ch Channel, inc Incident) Delivery {
	attempts := n.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := n.Backoff
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	log := n.logger().With("channel", ch.Name(), "incident", inc.ID, "key_id", inc.KeyID)
	d := Delivery{Channel: ch.Name()}
	for {
		d.Attempts++
		ref, err := ch.Send(ctx, inc)
		d.At = time.Now().UTC()
		if err == nil {
			d.Ref, d.Err = ref, nil
			log.Info("notification delivered", "attempts", d.Attempts, "ref", ref)
			return d
		}
		d.Err = err
		permanent := IsPermanent(err)
		log.Warn("notification attempt failed", "attempt", d.Attempts, "permanent", permanent, "err", err)
		if permanent || d.Attempts >= attempts || ctx.Err() != nil {
			return d
		}
		if err := n.sleep(ctx, backoff); err != nil {
			d.Err = errors.Join(d.Err, err)
			return d
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

func (n *Notifier) sleep(ctx context.Context, d time.Duration) error {
	if n.Sleep != nil {
		return n.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}
