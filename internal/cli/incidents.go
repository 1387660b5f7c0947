package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/respond"
)

const incidentsUsage = `leakguard incidents: the service's incidents, from its database.

Usage:
  leakguard incidents list [--state open|contained|resolved|released|dismissed] [--repo NAME] [--query TEXT] [--json]
  leakguard incidents show ID [--json]
  leakguard incidents resolve ID [--actor NAME]
  leakguard incidents release ID [--actor NAME]   lift an AWS key's quarantine once the key is deleted or inactive

Examples:
  leakguard incidents list --config /etc/leakguard/leakguard.toml --state open
  leakguard incidents show inc_4f2a9c0d1e2b3a4f --json

The database is serve.database of the configuration (--config or $LEAKGUARD_CONFIG).
`

func (a *App) incidents(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(a.Stdout, incidentsUsage)
		if len(args) == 0 {
			return usagef("incidents: no subcommand given")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("incidents "+sub, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { io.WriteString(a.Stderr, incidentsUsage) }
	cfgPath := fs.String("config", a.getenv("LEAKGUARD_CONFIG"), "configuration file")
	state := fs.String("state", "", "only incidents in this state")
	repo := fs.String("repo", "", "only incidents found in this repository")
	query := fs.String("query", "", "only incidents matching this text")
	asJSON := fs.Bool("json", false, "JSON output")
	actor := fs.String("actor", a.getenv("USER"), "who resolves")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, err := a.loadResponseConfig(*cfgPath)
	if err != nil {
		return err
	}
	store, err := incident.OpenStore(ctx, cfg.Serve.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "list":
		list, err := store.List(ctx, incident.Filter{State: incident.State(*state), Repository: *repo, Query: *query, Limit: 1000})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(a.Stdout, list)
		}
		tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tTITLE\tKEY\tACCOUNT\tREPOSITORY\tDETECTED\tCONTAINED")
		for _, inc := range list {
			repo := ""
			if len(inc.Locations) > 0 {
				repo = inc.Locations[0].Repository
			}
			det, _ := inc.At(incident.Detected)
			contained := "-"
			if d, ok := inc.Since(incident.ContainedEvent); ok {
				contained = fmt.Sprintf("+%.2fs", d)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inc.ID, inc.State, inc.Title, orDash(inc.KeyID), orDash(inc.Account), orDash(repo), det.Format(time.RFC3339), contained)
		}
		return tw.Flush()
	case "release":
		if len(pos) != 1 {
			return usagef("incidents release: want one incident ID")
		}
		inc, err := store.Get(ctx, pos[0])
		if err != nil {
			return err
		}
		if inc.KeyID == "" {
			return fmt.Errorf("incident %s is not an AWS key: nothing to release", inc.ID)
		}
		pb, err := cfg.Playbook(ctx, respond.Deps{Getenv: a.getenv, Audit: store.AuditLog(), Actor: *actor, Version: a.Version, Logger: a.logger(), AWS: a.AWSConfig})
		if err != nil {
			return err
		}
		res, err := pb.Responder.Release(ctx, containment.ReleaseRequest{KeyID: inc.KeyID, Principal: inc.Principal, Incident: inc.ID})
		printSteps(a.Stdout, res.Steps)
		if errors.Is(err, containment.ErrKeyActive) {
			fmt.Fprintf(a.Stderr, "leakguard: release refused: %v\n", err)
			return exitCode(ExitFindings)
		}
		if err != nil {
			return err
		}
		return store.Released(ctx, inc.ID, *actor)
	case "show", "resolve":
		if len(pos) != 1 {
			return usagef("incidents %s: want one incident ID", sub)
		}
		if sub == "resolve" {
			if err := store.Resolve(ctx, pos[0], *actor); err != nil {
				return err
			}
		}
		inc, err := store.Get(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(a.Stdout, inc)
		}
		printIncident(a.Stdout, inc)
		return nil
	}
	return usagef("incidents: unknown subcommand %q", sub)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printIncident(w io.Writer, inc incident.Incident) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Incident:\t%s (%s)\n", inc.ID, inc.State)
	fmt.Fprintf(tw, "Secret:\t%s %s\t%s\n", inc.Title, inc.Redacted, inc.Fingerprint)
	if inc.KeyID != "" {
		fmt.Fprintf(tw, "AWS key:\t%s in account %s, %s\n", inc.KeyID, orDash(inc.Account), orDash(inc.Principal))
	}
	for _, l := range inc.Locations {
		fmt.Fprintf(tw, "Found:\t%s %.12s %s:%d %s\n", l.Repository, l.Commit, l.Path, l.Line, l.URL)
	}
	tw.Flush()
	fmt.Fprintln(w, "Timeline:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	start, ok := inc.At(incident.Pushed)
	if !ok {
		start, _ = inc.At(incident.Received)
	}
	for _, e := range inc.Events {
		fmt.Fprintf(tw, "  %s\t+%.3fs\t%s\t%s\n", e.At.Format("2006-01-02T15:04:05.000Z"), e.At.Sub(start).Seconds(), e.Kind, strings.TrimSpace(e.Detail))
	}
	tw.Flush()
	if len(inc.Activity) > 0 {
		fmt.Fprintf(w, "Attacker activity: %d calls (see the dashboard or 'leakguard aws activity %s')\n", len(inc.Activity), inc.KeyID)
	}
}
