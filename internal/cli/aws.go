package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/respond"
)

// ExitFollowUp: the key is contained but notifying or opening the case
// failed; running the same command again finishes the job.
const ExitFollowUp = 3

const awsUsage = `leakguard aws: contain leaked AWS access keys.

Usage:
  leakguard aws whois KEY_ID              who owns a key: account, user, status, last use, policies
  leakguard aws contain KEY_ID            quarantine the key, check it holds, investigate, notify, open a case
  leakguard aws activity KEY_ID           the key's CloudTrail activity as a timeline
  leakguard aws release KEY_ID            lift the quarantine once the key is deleted or inactive

Examples:
  leakguard aws whois AKIAY34FZKBOKMUTVV7A
  leakguard aws contain AKIAY34FZKBOKMUTVV7A --dry-run
  printf '%s\n' "$LEAKED_SECRET" | leakguard aws contain AKIAY34FZKBOKMUTVV7A --secret-stdin \
      --found-url https://github.com/org/repo/blob/1a2b3c4/config.py#L3
  leakguard aws contain ASIAY34FZKBOKMUTVV7A --principal role/ci-deploy
  leakguard aws activity AKIAY34FZKBOKMUTVV7A --since 2026-11-29T00:00:00Z
  leakguard aws release AKIAY34FZKBOKMUTVV7A --principal user/deploy

Common options:
  --config FILE     response configuration (accounts, roles, policies, mail, tickets);
                    default $LEAKGUARD_CONFIG; without one LeakGuard acts only in its own account
  --audit-log FILE  append-only audit log; default audit.path, else
                    $XDG_STATE_HOME/leakguard/audit.jsonl (~/.local/state/leakguard/audit.jsonl)
  --json            machine-readable output
  --actor NAME      who is acting, for the audit log (default $USER)

LeakGuard's own AWS identity comes from the standard AWS environment
(AWS_ACCESS_KEY_ID, AWS_PROFILE, instance role...). It needs sts:GetAccessKeyInfo,
IAM read and write on users and roles, and sts:AssumeRole into configured roles.

Secrets are never taken as arguments: --secret-stdin reads the leaked secret
(and, for ASIA keys, the session token on a second line) from standard input.
With it, LeakGuard calls sts:GetCallerIdentity to tell whether the key is live,
and after containment proves with the key that iam:CreateUser is denied.

Exit codes:
  0  done (contain: contained, the check holds, owner told, case opened)
  1  refused or not holding (release: key still active; contain: check failed)
  2  usage or runtime error; nothing is assumed done (see the audit log)
  3  contained, but notifying or opening the case failed: run it again to finish
`

func (a *App) getenv(k string) string {
	if a.Getenv != nil {
		return a.Getenv(k)
	}
	return os.Getenv(k)
}

func (a *App) aws(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(a.Stdout, awsUsage)
		if len(args) == 0 {
			return usagef("aws: no subcommand given")
		}
		return nil
	}
	switch args[0] {
	case "whois", "contain", "activity", "release":
	default:
		return usagef("aws: unknown subcommand %q", args[0])
	}
	sub := args[0]
	fs := flag.NewFlagSet("aws "+sub, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { io.WriteString(a.Stderr, awsUsage) }
	cfgPath := fs.String("config", a.getenv("LEAKGUARD_CONFIG"), "response configuration file")
	auditPath := fs.String("audit-log", "", "audit log file")
	asJSON := fs.Bool("json", false, "JSON output")
	actor := fs.String("actor", a.getenv("USER"), "who is acting")
	principal := fs.String("principal", "", "owner override: user/NAME or role/NAME")
	secretStdin := fs.Bool("secret-stdin", false, "read the leaked secret (and session token) from stdin")
	policy := fs.String("policy", "", "containment policy override: quarantine, deactivate, deny-all")
	dryRun := fs.Bool("dry-run", false, "print the plan, change nothing")
	foundURL := fs.String("found-url", "", "where the key was found (for the owner's email)")
	foundWhere := fs.String("found-where", "", "where the key was found, in words")
	incident := fs.String("incident", "", "incident ID (default aws-KEY_ID)")
	noNotify := fs.Bool("no-notify", false, "do not notify the owner")
	noCase := fs.Bool("no-case", false, "do not open a case")
	since := fs.String("since", "", "activity from this time (RFC 3339, or a duration ago like 2h)")
	until := fs.String("until", "", "activity until this time (default now)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("aws %s: want exactly one access key ID", sub)
	}
	keyID := strings.TrimSpace(pos[0])

	cfg := &respond.Config{}
	if *cfgPath != "" {
		f, err := os.Open(*cfgPath)
		if err != nil {
			return fmt.Errorf("open config: %w", err)
		}
		cfg, err = respond.Parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *cfgPath, err)
		}
	} else if cfg, err = respond.Parse(strings.NewReader("")); err != nil {
		return err
	}
	logPath, err := a.auditPath(*auditPath, cfg.Audit.Path)
	if err != nil {
		return err
	}
	log, err := audit.Open(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	history := func(incident string) ([]audit.Entry, error) {
		all, err := audit.ReadFile(logPath)
		var out []audit.Entry
		for _, e := range all {
			if e.Incident == incident {
				out = append(out, e)
			}
		}
		return out, err
	}
	pb, err := cfg.Playbook(ctx, respond.Deps{
		Getenv: a.getenv, Audit: log, History: history, Actor: *actor, Version: a.Version, Logger: a.logger(),
		HTTPClient: a.HTTPClient, SMTPTLS: a.SMTPTLS, AWS: a.AWSConfig,
	})
	if err != nil {
		return err
	}
	pb.ActivityFirst = true // run after the fact: the owner's message carries the activity
	var cred containment.Credentials
	cred.KeyID = keyID
	if *secretStdin {
		if cred.Secret, cred.SessionToken, err = readSecret(a.Stdin); err != nil {
			return err
		}
	}

	switch sub {
	case "whois":
		id, err := pb.Responder.Identify(ctx, containment.IdentifyRequest{KeyID: keyID, Principal: *principal})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(a.Stdout, id)
		}
		printIdentity(a.Stdout, id)
		return nil

	case "contain":
		var p containment.Policy
		if *policy != "" {
			if p, err = containment.ParsePolicy(*policy); err != nil {
				return usagef("%v", err)
			}
		}
		rep, err := pb.Run(ctx, respond.Alert{
			Credentials: cred, Incident: *incident, Principal: *principal, Policy: p,
			FoundURL: *foundURL, FoundWhere: *foundWhere, DryRun: *dryRun, NoNotify: *noNotify, NoCase: *noCase,
		})
		if *asJSON {
			if jerr := writeJSON(a.Stdout, rep); jerr != nil {
				return jerr
			}
		} else {
			printReport(a.Stdout, rep, *dryRun)
		}
		switch {
		case errors.Is(err, respond.ErrFollowUp):
			fmt.Fprintf(a.Stderr, "leakguard: %v\nThe key is contained. Run the same command again to finish.\n", err)
			return exitCode(ExitFollowUp)
		case errors.Is(err, containment.ErrNotContained):
			fmt.Fprintf(a.Stderr, "leakguard: %v\n", err)
			return exitCode(ExitFindings)
		}
		return err

	case "activity":
		id, err := pb.Responder.Identify(ctx, containment.IdentifyRequest{KeyID: keyID, Principal: *principal})
		if err != nil && id.Account == "" {
			return err
		}
		now := time.Now().UTC()
		from, err := parseWhen(*since, now, now.Add(-cfg.CloudTrail.Lookback.Duration))
		if err != nil {
			return usagef("--since: %v", err)
		}
		to, err := parseWhen(*until, now, now)
		if err != nil {
			return usagef("--until: %v", err)
		}
		events, note, err := pb.Activity(ctx, id.Account, keyID, from, to)
		if *asJSON {
			if jerr := writeJSON(a.Stdout, struct {
				KeyID   string             `json:"key_id"`
				Account string             `json:"account"`
				Since   time.Time          `json:"since"`
				Until   time.Time          `json:"until"`
				Note    string             `json:"note,omitempty"`
				Events  []cloudtrail.Event `json:"events"`
				Summary cloudtrail.Summary `json:"summary"`
			}{keyID, id.Account, from, to, note, events, cloudtrail.Summarize(events)}); jerr != nil {
				return jerr
			}
		} else {
			printActivity(a.Stdout, events, note, from)
		}
		return err

	case "release":
		res, err := pb.Responder.Release(ctx, containment.ReleaseRequest{KeyID: keyID, Principal: a.releasePrincipal(*principal, history, *incident, keyID), Incident: incidentID(*incident, keyID)})
		if *asJSON {
			if jerr := writeJSON(a.Stdout, res); jerr != nil {
				return jerr
			}
		} else {
			printSteps(a.Stdout, res.Steps)
		}
		if errors.Is(err, containment.ErrKeyActive) {
			fmt.Fprintf(a.Stderr, "leakguard: release refused: %v\n", err)
			return exitCode(ExitFindings)
		}
		return err
	}
	return nil
}

func incidentID(flagValue, keyID string) string {
	if flagValue != "" {
		return flagValue
	}
	return "aws-" + keyID
}

// releasePrincipal finds who a key belonged to when IAM can no longer say
// (the key is deleted): the containment's audit entries name them.
func (a *App) releasePrincipal(flagValue string, history func(string) ([]audit.Entry, error), incident, keyID string) string {
	if flagValue != "" {
		return flagValue
	}
	entries, _ := history(incidentID(incident, keyID))
	for i := len(entries) - 1; i >= 0; i-- {
		if p := entries[i].Principal; p != "" && entries[i].KeyID == keyID {
			return p
		}
	}
	return ""
}

// auditPath picks the audit log: the flag, the config, then the XDG state
// directory.
func (a *App) auditPath(flagValue, configured string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if configured != "" {
		return configured, nil
	}
	dir := a.getenv("XDG_STATE_HOME")
	if dir == "" {
		home := a.getenv("HOME")
		if home == "" {
			return "", errors.New("no audit log: set --audit-log, audit.path or HOME")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "leakguard")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("audit log directory: %w", err)
	}
	return filepath.Join(dir, "audit.jsonl"), nil
}

// readSecret reads the leaked secret and an optional session token, one
// per line, from r.
func readSecret(r io.Reader) (secret, token string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	var lines []string
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read secret from stdin: %w", err)
	}
	switch len(lines) {
	case 1:
		return lines[0], "", nil
	case 2:
		return lines[0], lines[1], nil
	}
	return "", "", fmt.Errorf("--secret-stdin: want the secret access key on one line (and a session token on a second), got %d non-empty lines", len(lines))
}

// parseWhen reads an RFC 3339 time or a duration before now.
func parseWhen(s string, now, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-29T03:00:00Z) or a duration (2h)", s)
	}
	return t.UTC(), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printIdentity(w io.Writer, id containment.Identity) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	kind := "long-term access key"
	if id.Temporary {
		kind = "temporary (STS) access key"
	}
	fmt.Fprintf(tw, "Key:\t%s (%s)\n", id.KeyID, kind)
	acct := id.Account
	if id.AccountName != "" {
		acct += " (" + id.AccountName + ")"
	}
	fmt.Fprintf(tw, "Account:\t%s, from %s\n", acct, id.AccountSource)
	if id.Principal != "" {
		fmt.Fprintf(tw, "Owner:\t%s %s\t%s\n", id.PrincipalType, id.Principal, id.PrincipalARN)
	} else {
		fmt.Fprintf(tw, "Owner:\tunknown\n")
	}
	fmt.Fprintf(tw, "Status:\t%s\n", id.Status)
	if !id.Created.IsZero() {
		fmt.Fprintf(tw, "Created:\t%s\n", id.Created.UTC().Format(time.RFC3339))
	}
	if !id.LastUsed.IsZero() {
		fmt.Fprintf(tw, "Last used:\t%s, %s in %s\n", id.LastUsed.UTC().Format(time.RFC3339), id.LastService, id.LastRegion)
	} else if !id.Temporary {
		fmt.Fprintf(tw, "Last used:\tnever\n")
	}
	if len(id.Groups) > 0 {
		fmt.Fprintf(tw, "Groups:\t%s\n", strings.Join(id.Groups, ", "))
	}
	for i, p := range id.Attached {
		label := ""
		if i == 0 {
			label = "Attached policies:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, p)
	}
	if len(id.Inline) > 0 {
		fmt.Fprintf(tw, "Inline policies:\t%s\n", strings.Join(id.Inline, ", "))
	}
	if q := id.Quarantined(); len(q) > 0 {
		fmt.Fprintf(tw, "Contained by:\t%s\n", strings.Join(q, ", "))
	} else {
		fmt.Fprintf(tw, "Contained by:\tnothing\n")
	}
	fmt.Fprintf(tw, "Policy on leak:\t%s\n", id.Policy)
	tw.Flush()
}

func printSteps(w io.Writer, steps []audit.Entry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range steps {
		what := strings.TrimSpace(s.Action + " " + s.Target)
		detail := s.Detail
		if s.RequestID != "" {
			detail = strings.TrimSpace(detail + " [request " + s.RequestID + "]")
		}
		if s.Error != "" {
			detail = strings.TrimSpace(detail + " " + s.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Time.UTC().Format("15:04:05.000"), s.Step, what, s.Outcome, detail)
	}
	tw.Flush()
}

func printReport(w io.Writer, rep respond.Report, dryRun bool) {
	res := rep.Containment
	id := res.Identity
	fmt.Fprintf(w, "Incident %s: %s in account %s", rep.Incident, id.KeyID, id.Account)
	if id.AccountName != "" {
		fmt.Fprintf(w, " (%s)", id.AccountName)
	}
	if id.Principal != "" {
		fmt.Fprintf(w, ", %s %s", id.PrincipalType, id.Principal)
	}
	fmt.Fprintf(w, ", key %s, %s\n", id.Status, res.Live)
	if dryRun {
		fmt.Fprintf(w, "Plan (%s), nothing changed:\n", res.Policy)
	} else {
		fmt.Fprintf(w, "Steps (%s):\n", res.Policy)
	}
	printSteps(w, res.Steps)
	if dryRun || res.Contained.IsZero() {
		return
	}
	took := res.Contained.Sub(res.Started).Seconds()
	switch {
	case !res.Changed:
		fmt.Fprintf(w, "Already contained: nothing changed.\n")
	default:
		fmt.Fprintf(w, "Contained in %.2f s.\n", took)
	}
	switch {
	case res.Holds && res.Proved:
		fmt.Fprintf(w, "Check: holds, proved with the leaked key (iam:CreateUser denied).\n")
	case res.Holds:
		fmt.Fprintf(w, "Check: holds (policies and key status re-read; pass --secret-stdin to also prove it with the key).\n")
	}
	if rep.Activity != nil || rep.ActivityNote != "" {
		s := rep.Summary
		fmt.Fprintf(w, "Activity: %d calls by the key (%d denied, %d allowed), %d source IPs.", s.Calls, s.Denied, s.Allowed, len(s.SourceIPs))
		if rep.ActivityNote != "" {
			fmt.Fprintf(w, " %s", rep.ActivityNote)
		}
		fmt.Fprintln(w)
	}
	for _, d := range rep.Deliveries {
		if d.Error != "" {
			fmt.Fprintf(w, "Notify via %s: FAILED after %d attempt(s): %s\n", d.Channel, d.Attempts, d.Error)
		} else {
			fmt.Fprintf(w, "Notified via %s at %s (%s).\n", d.Channel, d.At.Format("15:04:05"), d.Ref)
		}
	}
	if rep.CaseRef != "" {
		fmt.Fprintf(w, "Case: %s\n", rep.CaseRef)
	}
}

func printActivity(w io.Writer, events []cloudtrail.Event, note string, since time.Time) {
	if len(events) == 0 {
		fmt.Fprintf(w, "No CloudTrail events for this key since %s.\n", since.Format(time.RFC3339))
	} else {
		cloudtrail.WriteTimeline(w, events, time.Time{})
		s := cloudtrail.Summarize(events)
		fmt.Fprintf(w, "\n%d calls: %d denied, %d allowed, %d failed; source IPs: %s\n", s.Calls, s.Denied, s.Allowed, s.Failed, strings.Join(s.SourceIPs, ", "))
		if len(s.Succeeded) > 0 {
			fmt.Fprintf(w, "Succeeded: %s\n", strings.Join(s.Succeeded, ", "))
		}
	}
	if note != "" {
		fmt.Fprintln(w, note)
	}
}
