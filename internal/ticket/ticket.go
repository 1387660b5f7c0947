// Package ticket opens a case for a leaked-key incident: with AWS Support
// where the account has a plan that allows it, else with a ticketing
// system's intake webhook, or the first of several that works.
package ticket

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Case is what a ticket says.
type Case struct {
	Subject  string
	Body     string
	Severity string // low, normal, high, urgent or critical; empty leaves it to the receiver
	CC       []string
}

// Severities a Case may carry, lowest first.
var severities = []string{"low", "normal", "high", "urgent", "critical"}

func (c Case) validate() error {
	if strings.TrimSpace(c.Subject) == "" {
		return errors.New("case has no subject")
	}
	if strings.TrimSpace(c.Body) == "" {
		return errors.New("case has no body")
	}
	if c.Severity != "" && !slices.Contains(severities, c.Severity) {
		return fmt.Errorf("unknown severity %q (want one of %s)", c.Severity, strings.Join(severities, ", "))
	}
	return nil
}

// Opener opens a case somewhere and returns its reference.
type Opener interface {
	// Name identifies the opener in errors and logs.
	Name() string
	Open(ctx context.Context, c Case) (ref string, err error)
}

// Chain tries each opener in order and returns the first reference; an
// opener that fails (ErrNoSupportPlan especially) hands over to the next.
type Chain []Opener

// Name implements Opener.
func (ch Chain) Name() string {
	names := make([]string, len(ch))
	for i, o := range ch {
		names[i] = o.Name()
	}
	return "chain(" + strings.Join(names, ", ") + ")"
}

// Open implements Opener. If every opener fails, the error lists every
// attempt and wraps each one's error.
func (ch Chain) Open(ctx context.Context, c Case) (string, error) {
	if len(ch) == 0 {
		return "", errors.New("open case: no ticket opener configured")
	}
	var errs []error
	for _, o := range ch {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		ref, err := o.Open(ctx, c)
		if err == nil {
			return ref, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", o.Name(), err))
	}
	return "", fmt.Errorf("open case: every opener failed: %w", errors.Join(errs...))
}
