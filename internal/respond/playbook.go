package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/notify"
	"github.com/leakguard/leakguard/internal/ticket"
)

// ErrFollowUp marks a run whose key is contained but whose notification
// or case failed; running the same alert again finishes it without
// repeating what is done.
var ErrFollowUp = errors.New("contained, but a follow-up step failed")

// Alert is one leaked AWS key to respond to.
type Alert struct {
	containment.Credentials
	Incident   string             // default "aws-" + key ID: one incident per key
	Principal  string             // owner override, see containment.Request
	Policy     containment.Policy // override of the account's policy
	FoundURL   string
	FoundWhere string
	DetectedAt time.Time // default now
	// ActivitySince starts the CloudTrail search; default DetectedAt minus
	// the configured lookback.
	ActivitySince time.Time
	DryRun        bool
	NoNotify      bool
	NoCase        bool
	// Progress, when set, is called with the report so far once the key is
	// contained and again once the owner is told, so a service can show
	// each step as it happens.
	Progress func(Report)
}

// Report is what a run did.
type Report struct {
	Incident     string             `json:"incident"`
	DetectedAt   time.Time          `json:"detected_at"`
	Containment  containment.Result `json:"containment"`
	Activity     []cloudtrail.Event `json:"activity"`
	Summary      cloudtrail.Summary `json:"activity_summary"`
	ActivityNote string             `json:"activity_note,omitempty"`
	Notified     time.Time          `json:"notified,omitzero"`
	Deliveries   []DeliveryReport   `json:"deliveries,omitempty"`
	CaseRef      string             `json:"case,omitempty"`
}

// DeliveryReport is one notification channel's outcome.
type DeliveryReport struct {
	Channel  string    `json:"channel"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	Ref      string    `json:"ref,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Playbook responds to leaked AWS keys: contain, investigate, notify, open
// a case. Each step is audited; a repeated run skips what is done.
type Playbook struct {
	Responder *containment.Responder
	Audit     audit.Recorder
	// History returns the audit entries recorded so far for an incident;
	// nil means none are kept.
	History func(incident string) ([]audit.Entry, error)
	// Activity reads a key's CloudTrail events in its account; nil skips
	// investigation. The string explains a partial or empty result.
	// ActivityFirst reads it before telling the owner, so the message
	// carries it (the CLI, run some time after the leak); otherwise the
	// owner is told first and the activity read afterwards (the service:
	// CloudTrail delivers events about 5 minutes late, so right after a
	// push there is nothing to wait for).
	Activity      func(ctx context.Context, account, keyID string, since, until time.Time) ([]cloudtrail.Event, string, error)
	ActivityFirst bool
	// Channels returns the channels that reach an account's owners; nil
	// skips notification.
	Channels       func(account string) ([]notify.Channel, error)
	NotifyAttempts int
	NotifyBackoff  time.Duration
	// Cases returns where an account's cases are opened; nil skips them.
	Cases        func(account string) (ticket.Opener, error)
	CaseSeverity string
	DashboardURL string
	Now          func() time.Time
	Sleep        func(context.Context, time.Duration) error
	Logger       *slog.Logger
}

func (p *Playbook) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Playbook) record(ctx context.Context, inc string, res containment.Result, e audit.Entry) error {
	e.Time, e.Incident, e.KeyID, e.Account, e.Actor = p.now(), inc, res.Identity.KeyID, res.Identity.Account, p.Responder.Actor
	if res.Identity.Principal != "" {
		e.Principal = res.Identity.PrincipalType + "/" + res.Identity.Principal
	}
	// Written even if ctx was cancelled meanwhile: the step happened.
	if err := p.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Step, err)
	}
	return nil
}

// Run responds to one alert.
func (p *Playbook) Run(ctx context.Context, a Alert) (Report, error) {
	rep := Report{Incident: a.Incident, DetectedAt: a.DetectedAt}
	if rep.Incident == "" {
		rep.Incident = "aws-" + a.KeyID
	}
	if rep.DetectedAt.IsZero() {
		rep.DetectedAt = p.now()
	}
	var history []audit.Entry
	if p.History != nil {
		var err error
		if history, err = p.History(rep.Incident); err != nil {
			return rep, err
		}
	}
	// The first containment's time is the session-revocation cut-off, so a
	// repeated run finds it in place.
	var since time.Time
	for _, e := range history {
		if t, ok := containment.RevokeCutoff(e); ok {
			since = t
			break
		}
	}
	res, err := p.Responder.Contain(ctx, containment.Request{
		Credentials: a.Credentials, Principal: a.Principal, Policy: a.Policy,
		DryRun: a.DryRun, Incident: rep.Incident, Since: since,
	})
	rep.Containment = res
	if a.DryRun {
		return rep, err
	}
	if err != nil {
		// The key may still work: its owners must hear it now, from the
		// failed step on. The incident stays open.
		if res.Identity.Account != "" {
			if nerr := p.notify(ctx, a, &rep, history, "notify-not-contained"); nerr != nil {
				err = errors.Join(err, fmt.Errorf("notify the owner that containment failed: %w", nerr))
			}
		}
		return rep, err
	}

	if p.ActivityFirst {
		if err := p.investigate(ctx, a, &rep); err != nil {
			return rep, err
		}
	}
	if a.Progress != nil {
		a.Progress(rep)
	}
	if !p.ActivityFirst && p.Activity != nil {
		rep.ActivityNote = "CloudTrail delivers events about 5 minutes after they happen: LeakGuard reads this key's activity after this message; the incident page shows it."
	}
	var followUp []error
	if err := p.notify(ctx, a, &rep, history, "notify"); err != nil {
		followUp = append(followUp, err)
	}
	if err := p.openCase(ctx, a, &rep, history); err != nil {
		followUp = append(followUp, err)
	}
	if a.Progress != nil {
		a.Progress(rep)
	}
	if !p.ActivityFirst {
		if err := p.investigate(ctx, a, &rep); err != nil {
			return rep, err
		}
	}
	if len(followUp) > 0 {
		return rep, fmt.Errorf("%w: %w", ErrFollowUp, errors.Join(followUp...))
	}
	return rep, nil
}

// investigate reads the key's CloudTrail activity into the report. A
// failure to read it is noted and audited, not fatal.
func (p *Playbook) investigate(ctx context.Context, a Alert, rep *Report) error {
	res := rep.Containment
	if p.Activity != nil {
		from := a.ActivitySince
		if from.IsZero() {
			from = rep.DetectedAt.Add(-24 * time.Hour)
		}
		events, note, err := p.Activity(ctx, res.Identity.Account, a.KeyID, from, p.now())
		rep.Activity, rep.ActivityNote = events, note
		rep.Summary = cloudtrail.Summarize(events)
		e := audit.Entry{Step: "activity", Action: "cloudtrail:LookupEvents", Outcome: audit.Checked,
			Detail: fmt.Sprintf("%d calls since %s: %d denied, %d allowed, %d source IPs", rep.Summary.Calls, from.Format(time.RFC3339), rep.Summary.Denied, rep.Summary.Allowed, len(rep.Summary.SourceIPs))}
		if err != nil {
			e.Outcome, e.Error = audit.Failed, err.Error()
			rep.ActivityNote = strings.TrimSpace(note + " CloudTrail could not be read in full: " + err.Error())
		}
		if err := p.record(ctx, rep.Incident, res, e); err != nil {
			return err
		}
	}
	return nil
}

// done finds a successful earlier run of step in the incident's history.
func done(history []audit.Entry, step string) (audit.Entry, bool) {
	for _, e := range history {
		if e.Step == step && e.Outcome == audit.Done {
			return e, true
		}
	}
	return audit.Entry{}, false
}

// Incident converts a report to what the owner is told.
func (p *Playbook) Incident(a Alert, rep Report) notify.Incident {
	res := rep.Containment
	inc := notify.Incident{
		ID: rep.Incident, KeyID: res.Identity.KeyID, Account: res.Identity.Account, AccountName: res.Identity.AccountName,
		UserName: res.Identity.Principal, PrincipalARN: res.Identity.PrincipalARN, Live: res.Live.String(),
		FoundURL: a.FoundURL, FoundWhere: a.FoundWhere, DetectedAt: rep.DetectedAt, Policy: string(res.Policy),
		Activity: rep.Activity, ActivityNote: rep.ActivityNote, Summary: rep.Summary,
	}
	// Incidents of the service (inc_…) have a page on its dashboard.
	if p.DashboardURL != "" && strings.HasPrefix(rep.Incident, "inc_") {
		inc.DashboardURL = strings.TrimRight(p.DashboardURL, "/") + "/incidents/" + rep.Incident
	}
	for _, s := range res.Steps {
		step := s.Step
		if s.Action != "" {
			step += ": " + s.Action
		}
		if s.Target != "" {
			step += " " + s.Target
		}
		detail := s.Detail
		if s.RequestID != "" {
			detail = strings.TrimSpace(detail + " (request " + s.RequestID + ")")
		}
		if s.Error != "" {
			detail = strings.TrimSpace(detail + " " + s.Error)
		}
		inc.Actions = append(inc.Actions, notify.Action{Time: s.Time, Step: step, Outcome: s.Outcome, Detail: detail})
	}
	return inc
}

// notify tells the owners once per incident and step: "notify" once the
// key is contained, "notify-not-contained" when containment failed (so a
// later successful run still sends its own message).
func (p *Playbook) notify(ctx context.Context, a Alert, rep *Report, history []audit.Entry, step string) error {
	if a.NoNotify || p.Channels == nil {
		return nil
	}
	all, err := p.Channels(rep.Containment.Identity.Account)
	if err != nil {
		return fmt.Errorf("notification channels for account %s: %w", rep.Containment.Identity.Account, err)
	}
	// Each channel delivers once per incident: a repeated run retries only
	// the channels that failed.
	var chans []notify.Channel
	for _, ch := range all {
		delivered := false
		for _, e := range history {
			if e.Step == step && e.Action == ch.Name() && e.Outcome == audit.Done {
				delivered = true
				if rep.Notified.IsZero() || e.Time.Before(rep.Notified) {
					rep.Notified = e.Time
				}
			}
		}
		if !delivered {
			chans = append(chans, ch)
		}
	}
	if len(chans) == 0 {
		return nil
	}
	n := &notify.Notifier{Channels: chans, Attempts: p.NotifyAttempts, Backoff: p.NotifyBackoff, Sleep: p.Sleep, Logger: p.Logger}
	deliveries, nerr := n.Notify(ctx, p.Incident(a, *rep))
	for _, d := range deliveries {
		dr := DeliveryReport{Channel: d.Channel, At: d.At.UTC(), Attempts: d.Attempts, Ref: d.Ref}
		e := audit.Entry{Step: step, Action: d.Channel, Target: d.Ref, Outcome: audit.Done, Detail: fmt.Sprintf("%d attempt(s)", d.Attempts)}
		if d.Err != nil {
			dr.Error, e.Outcome, e.Error = d.Err.Error(), audit.Failed, d.Err.Error()
		} else if rep.Notified.IsZero() {
			rep.Notified = dr.At
		}
		rep.Deliveries = append(rep.Deliveries, dr)
		if err := p.record(ctx, rep.Incident, rep.Containment, e); err != nil {
			return errors.Join(nerr, err)
		}
	}
	return nerr
}

func (p *Playbook) openCase(ctx context.Context, a Alert, rep *Report, history []audit.Entry) error {
	if a.NoCase || p.Cases == nil {
		return nil
	}
	if e, ok := done(history, "case"); ok {
		rep.CaseRef = e.Target
		return nil
	}
	opener, err := p.Cases(rep.Containment.Identity.Account)
	if err != nil {
		return fmt.Errorf("case channels for account %s: %w", rep.Containment.Identity.Account, err)
	}
	email, err := notify.Render(p.Incident(a, *rep))
	if err != nil {
		return fmt.Errorf("render case: %w", err)
	}
	ref, err := opener.Open(ctx, ticket.Case{Subject: email.Subject, Body: email.Text, Severity: p.CaseSeverity})
	e := audit.Entry{Step: "case", Action: opener.Name(), Target: ref, Outcome: audit.Done}
	if err != nil {
		e.Outcome, e.Error = audit.Failed, err.Error()
	}
	rep.CaseRef = ref
	if rerr := p.record(ctx, rep.Incident, rep.Containment, e); rerr != nil {
		return errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	return nil
}
