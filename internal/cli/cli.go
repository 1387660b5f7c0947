// Package cli implements the leakguard command line: argument parsing,
// wiring of configuration, engine, sources and reports, and exit codes.
// cmd/leakguard only calls Run.
package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Exit codes, documented in --help.
const (
	ExitClean    = 0 // scan complete, nothing found
	ExitFindings = 1 // scan complete, secrets found
	ExitError    = 2 // usage error, runtime error, or an incomplete scan
)

// App is the program with its environment injected.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Version        string
	// IsTerminal reports whether a writer is an interactive terminal
	// (progress bars are drawn only there).
	IsTerminal func(w io.Writer) bool
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives diagnostics; nil means text to Stderr at warning level.
	Logger *slog.Logger
	// HTTPClient, SMTPTLS and AWSConfig override how the aws commands
	// reach webhooks, mail servers and AWS; nil means the defaults.
	HTTPClient *http.Client
	SMTPTLS    *tls.Config
	AWSConfig  *aws.Config
}

func (a *App) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// usageError is a mistake in the command line: exit 2 with usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const mainUsage = `leakguard finds leaked credentials before attackers do.

Usage:
  leakguard scan dir PATH...      scan files and directories
  leakguard scan stdin            scan standard input
  leakguard scan git [REPO]       scan a repository's whole history
  leakguard scan staged [REPO]    scan what is about to be committed
  leakguard scan pre-receive      reject pushes that add secrets (server hook)
  leakguard hook install          install the pre-commit (or pre-receive) hook
  leakguard aws whois KEY_ID      who owns a leaked AWS key
  leakguard aws contain KEY_ID    quarantine it, check it holds, tell the owner
  leakguard aws activity KEY_ID   what the key was used for (CloudTrail)
  leakguard aws release KEY_ID    lift the quarantine once the key is rotated
  leakguard serve                 the service: push webhooks, partner alerts, containment, dashboard
  leakguard incidents list|show|resolve   the service's incidents
  leakguard drill                 leak a harmless canary key and time LeakGuard's response
  leakguard rules                 list the detection rules
  leakguard version               print the version

Run 'leakguard scan --help', 'leakguard hook --help' and 'leakguard aws --help' for options.

Exit codes:
  0  nothing found
  1  secrets found
  2  usage or runtime error, or a scan that could not read everything
  3  (aws contain) key contained, but the owner was not told yet: run it again
`

// Run runs the command line and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	var ue *usageError
	var ec exitCode
	switch {
	case err == nil:
		return ExitClean
	case errors.As(err, &ec):
		return int(ec)
	case errors.Is(err, flag.ErrHelp):
		return ExitClean
	case errors.As(err, &ue):
		fmt.Fprintf(a.Stderr, "leakguard: %s\nRun 'leakguard --help' for usage.\n", ue.msg)
		return ExitError
	default:
		fmt.Fprintf(a.Stderr, "leakguard: %s\n", err)
		return ExitError
	}
}

// exitCode is an error that only carries an exit code (the command has
// already said everything).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func (a *App) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, mainUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.Stdout, mainUsage)
		return nil
	case "version", "--version":
		fmt.Fprintf(a.Stdout, "leakguard %s\n", a.Version)
		return nil
	case "scan":
		return a.scan(ctx, args[1:])
	case "rules":
		return a.listRules(args[1:])
	case "hook":
		return a.hook(ctx, args[1:])
	case "aws":
		return a.aws(ctx, args[1:])
	case "serve":
		return a.serve(ctx, args[1:])
	case "incidents":
		return a.incidents(ctx, args[1:])
	case "drill":
		return a.drill(ctx, args[1:])
	}
	return usagef("unknown command %q", args[0])
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments, and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (a *App) isTerminal(w io.Writer) bool {
	if a.IsTerminal != nil {
		return a.IsTerminal(w)
	}
	return false
}

// openOutput returns where the report goes.
func (a *App) openOutput(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return a.Stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open output: %w", err)
	}
	return f, f.Close, nil
}
