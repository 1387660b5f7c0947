package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/report"
	"github.com/leakguard/leakguard/internal/rules"
	"github.com/leakguard/leakguard/internal/scan"
)

const scanUsage = `Usage:
  leakguard scan dir [flags] PATH...
  leakguard scan stdin [flags]
  leakguard scan git [flags] [REPO]
  leakguard scan staged [flags] [REPO]
  leakguard scan pre-receive [flags]      (as a server's pre-receive hook)

Scan files, standard input or a git repository for credentials: cloud
keys, API tokens, private keys, connection strings with passwords, and (at
low confidence) generic password and secret assignments. Secrets are found
inside base64, percent-encoding and string escapes too.

scan git reads every commit reachable from any ref (or --branch, --since,
--range) and reports each secret once, at the commits that introduced it,
with author, date and a link when the remote is on GitHub, GitLab or
Bitbucket. scan staged checks exactly what is about to be committed (the
pre-commit hook); scan pre-receive rejects a push that introduces a secret.

Secrets are redacted in every format unless --no-redact is given; each
finding carries a fingerprint of the secret's content for ignore files
and baselines.

Examples:
  leakguard scan dir .
  leakguard scan dir --format sarif --output leakguard.sarif src/ deploy/
  git diff | leakguard scan stdin
  leakguard scan git                               # all history of the repo here
  leakguard scan git --range "$BASE..$HEAD" --format sarif --output l.sarif
  leakguard scan git --state .leakguard-state.json ~/src/app   # only new commits
  leakguard scan staged                            # before a commit
  leakguard scan dir --baseline previous.json --min-confidence high .

Configuration: --config FILE, or .leakguard.toml (or a gitleaks
.gitleaks.toml) at the top of the scanned directory or repository. Ignore
file: --ignore FILE, or .leakguardignore there (one fingerprint per line).
A line containing "leakguard:allow" is never reported.

Exit codes:
  0  scan complete, nothing found (a push or commit is accepted)
  1  scan complete, secrets found (a push or commit is rejected)
  2  usage or runtime error, or a scan that could not read everything
     (findings from the part that was read are still reported)

Flags:
`

type scanOptions struct {
	format, output, configPath, baseline, ignorePath string
	noRedact, scanBinary, noProgress                 bool
	minConfidence                                    string
	rulesOnly, skipRules                             string
	maxFileSize                                      string
	workers                                          int
	// git
	branch, since, rangeSpec, statePath string
	maxCommits                          int
	// pre-receive
	timeout       time.Duration
	onTimeout     string
	allowBypass   bool
	bypassLogPath string
	// reporting to a LeakGuard service
	reportTo, reportRepo string
}

func (a *App) scan(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var o scanOptions
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(report.Formats, ", "))
	fs.StringVar(&o.output, "output", "", "write the report to `FILE` instead of standard output")
	fs.BoolVar(&o.noRedact, "no-redact", false, "show secrets in full in the report (they are redacted by default)")
	fs.StringVar(&o.configPath, "config", "", "configuration `FILE` (LeakGuard or gitleaks TOML)")
	fs.StringVar(&o.baseline, "baseline", "", "previous JSON report `FILE`: its findings are not reported again")
	fs.StringVar(&o.ignorePath, "ignore", "", "ignore `FILE` of fingerprints")
	fs.StringVar(&o.minConfidence, "min-confidence", "low", "report only findings at or above `LEVEL`: low, medium or high")
	fs.StringVar(&o.rulesOnly, "rules", "", "comma-separated rule `IDS` to run (default all)")
	fs.StringVar(&o.skipRules, "skip-rules", "", "comma-separated rule `IDS` not to run")
	fs.StringVar(&o.maxFileSize, "max-file-size", "0", "skip files larger than `SIZE` (e.g. 10MB; 0 means no limit)")
	fs.BoolVar(&o.scanBinary, "scan-binary", false, "scan files that look binary instead of skipping them")
	fs.BoolVar(&o.noProgress, "no-progress", false, "never draw a progress bar")
	fs.IntVar(&o.workers, "workers", 0, "parallel workers (default: number of CPUs)")
	fs.StringVar(&o.branch, "branch", "", "git: scan only commits reachable from `REF` (default: all refs)")
	fs.StringVar(&o.since, "since", "", "git: skip commits reachable from `REF` (scan what came after it)")
	fs.StringVar(&o.rangeSpec, "range", "", "git: scan the commits of `A..B` (CI: \"$BASE..$HEAD\"; an all-zeros A scans all of B)")
	fs.IntVar(&o.maxCommits, "max-commits", 0, "git: scan at most `N` commits, newest first")
	fs.StringVar(&o.statePath, "state", "", "git: remember scanned ref tips in `FILE` and scan only newer commits")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "pre-receive: time budget; other scans: 0 (none) unless set")
	fs.StringVar(&o.onTimeout, "on-timeout", "reject", "pre-receive: `POLICY` when over budget: reject or accept")
	fs.BoolVar(&o.allowBypass, "allow-bypass", false, "pre-receive: honour git push -o leakguard.allow=FINGERPRINT")
	fs.StringVar(&o.reportTo, "report-to", "", "send the findings to a LeakGuard service's `URL` (.../api/findings; token in $LEAKGUARD_REPORT_TOKEN); fingerprints, redacted secrets and AWS key IDs only, never a secret")
	fs.StringVar(&o.reportRepo, "report-repository", "", "repository name for --report-to (default: the scanned path)")
	fs.StringVar(&o.bypassLogPath, "bypass-log", "", "pre-receive: append accepted bypasses to `FILE` (default GIT_DIR/leakguard-bypass.log)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), scanUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if len(pos) == 0 {
		fs.Usage()
		return usagef("scan: say what to scan: dir PATH..., stdin, git, staged or pre-receive")
	}
	if !slices.Contains(report.Formats, o.format) {
		return usagef("unknown format %q (want %s)", o.format, strings.Join(report.Formats, ", "))
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	source, targets := pos[0], pos[1:]
	switch source {
	case "dir", "file", "files":
		if len(targets) == 0 {
			return usagef("scan dir: give at least one PATH")
		}
	case "stdin", "-", "pre-receive":
		if len(targets) > 0 {
			return usagef("scan %s takes no arguments", source)
		}
	case "git", "staged":
		if len(targets) > 1 {
			return usagef("scan %s takes at most one repository", source)
		}
		if len(targets) == 0 {
			targets = []string{"."}
		}
	default:
		return usagef("scan: unknown source %q (want dir, stdin, git, staged or pre-receive)", source)
	}
	if source != "pre-receive" && !timeoutSet {
		o.timeout = 0
	}
	if o.onTimeout != "reject" && o.onTimeout != "accept" {
		return usagef("--on-timeout: want reject or accept, not %q", o.onTimeout)
	}
	return a.runScan(ctx, o, source, targets)
}

// scanRun is what every source needs: the scanner and the set it fills.
type scanRun struct {
	opts    scanOptions
	scanner *scan.Scanner
	set     *finding.Set
	summary report.Summary
	errs    []error
}

func (a *App) runScan(ctx context.Context, o scanOptions, source string, targets []string) error {
	start := time.Now()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	dir := ""
	switch source {
	case "dir", "file", "files", "git", "staged":
		if st, err := os.Stat(targets[0]); err == nil && st.IsDir() {
			dir = targets[0]
		}
	}
	run, err := a.prepare(o, dir)
	if err != nil {
		return err
	}
	var serr error
	switch source {
	case "stdin", "-":
		run.summary.Source = "stdin"
		var stats scan.Stats
		stats, serr = run.scanner.Run(ctx, scan.ReaderItem("stdin", a.Stdin), run.set)
		run.addStats(stats)
	case "git", "staged":
		serr = a.scanGit(ctx, run, source, targets[0])
	case "pre-receive":
		return a.preReceive(ctx, run, start)
	default:
		serr = a.scanFiles(ctx, run, targets)
	}
	return a.finish(run, serr, start)
}

// prepare loads configuration, rules and ignores, and builds the scanner.
func (a *App) prepare(o scanOptions, dir string) (*scanRun, error) {
	minConf, err := rules.ParseConfidence(o.minConfidence)
	if err != nil {
		return nil, usagef("--min-confidence: %v", err)
	}
	maxSize, err := parseSize(o.maxFileSize)
	if err != nil {
		return nil, usagef("--max-file-size: %v", err)
	}
	cfg, err := loadConfig(o.configPath, dir)
	if err != nil {
		return nil, err
	}
	catalogue, err := rules.Default()
	if err != nil {
		return nil, err
	}
	rs, err := cfg.Apply(catalogue)
	if err != nil {
		return nil, err
	}
	if rs, err = selectRules(rs, o.rulesOnly, o.skipRules); err != nil {
		return nil, err
	}
	opts := detect.DefaultOptions()
	opts.Stopwords = cfg.Allow.Stopwords
	opts.AllowRegexes = cfg.SecretRegexes()
	eng, err := detect.New(rs, opts)
	if err != nil {
		return nil, err
	}
	skip, err := loadSkips(cfg, o.ignorePath, o.baseline, dir)
	if err != nil {
		return nil, err
	}
	excluded := cfg.PathExcluded()
	return &scanRun{
		opts: o,
		scanner: &scan.Scanner{Engine: eng, Workers: o.workers, MaxFileSize: maxSize, ScanBinary: o.scanBinary,
			MinConfidence: minConf, Exclude: excluded},
		set: finding.NewSet(skip),
	}, nil
}

func (r *scanRun) addStats(s scan.Stats) {
	r.summary.Items += s.Items
	r.summary.Bytes += s.Bytes
	r.summary.SkippedBinary += s.SkippedBinary
	r.summary.SkippedLarge += s.SkippedLarge
	r.errs = append(r.errs, s.Errors...)
}

func (a *App) scanFiles(ctx context.Context, run *scanRun, targets []string) error {
	run.summary.Source = strings.Join(targets, " ")
	w := scan.FileWalker{Exclude: run.scanner.Exclude}
	files, walkErr, err := w.Walk(ctx, targets)
	if err != nil {
		return err
	}
	run.errs = append(run.errs, walkErr...)
	var bar *progressBar
	if !run.opts.noProgress && a.isTerminal(a.Stderr) {
		var total int64
		for _, f := range files {
			total += f.Size
		}
		bar = newProgressBar(a.Stderr, "files", int64(len(files)), total)
		run.scanner.Progress = bar
		bar.start()
	}
	stats, err := run.scanner.Run(ctx, scan.FileItems(ctx, files), run.set)
	bar.stop()
	run.addStats(stats)
	return err
}

// finish writes the report and the summary, and chooses the exit code.
func (a *App) finish(run *scanRun, serr error, start time.Time) error {
	rep := a.buildReport(run, serr, start)
	if err := a.writeReport(run.opts, rep); err != nil {
		return err
	}
	if run.opts.reportTo != "" {
		if err := a.reportFindings(run); err != nil {
			fmt.Fprintf(a.Stderr, "leakguard: findings not reported: %v\n", err)
			if len(run.set.Findings(true)) > 0 {
				return exitCode(ExitError)
			}
		}
	}
	report.WriteSummary(a.Stderr, rep)
	switch {
	case !rep.Scan.Complete:
		return exitCode(ExitError)
	case len(rep.Findings) > 0:
		return exitCode(ExitFindings)
	}
	return nil
}

func (a *App) buildReport(run *scanRun, serr error, start time.Time) *report.Report {
	sum := run.summary
	sum.Redacted = !run.opts.noRedact
	sum.Complete = serr == nil && len(run.errs) == 0
	sum.DurationMS = time.Since(start).Milliseconds()
	for _, e := range run.errs {
		sum.Errors = append(sum.Errors, e.Error())
	}
	if serr != nil {
		msg := serr.Error()
		if errors.Is(serr, context.DeadlineExceeded) {
			msg = fmt.Sprintf("timed out after %s: the scan is partial", run.opts.timeout)
		}
		sum.Errors = append(sum.Errors, msg)
	}
	return &report.Report{
		Tool:     report.Tool{Name: "leakguard", Version: a.Version},
		Findings: run.set.Findings(!run.opts.noRedact),
		Scan:     sum,
	}
}

func (a *App) writeReport(o scanOptions, rep *report.Report) error {
	out, closeOut, err := a.openOutput(o.output)
	if err != nil {
		return err
	}
	if werr := report.Write(out, o.format, rep); werr != nil {
		closeOut()
		return fmt.Errorf("write report: %w", werr)
	}
	if cerr := closeOut(); cerr != nil {
		return fmt.Errorf("write report: %w", cerr)
	}
	return nil
}

// loadConfig reads --config, or the directory's .leakguard.toml or
// .gitleaks.toml, or returns the default.
func loadConfig(path, dir string) (*config.Config, error) {
	if path == "" && dir != "" {
		for _, name := range []string{config.FileName, ".gitleaks.toml"} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return config.Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := config.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// loadSkips gathers the fingerprints not to report: the config's, the
// ignore file's and the baseline's.
func loadSkips(cfg *config.Config, ignorePath, baselinePath, dir string) (map[string]bool, error) {
	skip := map[string]bool{}
	cf, err := finding.ParseIgnore(strings.NewReader(strings.Join(cfg.Allow.Fingerprints, "\n")))
	if err != nil {
		return nil, fmt.Errorf("config: allowlist fingerprints: %w", err)
	}
	maps.Copy(skip, cf)
	if ignorePath == "" && dir != "" {
		if p := filepath.Join(dir, ".leakguardignore"); fileExists(p) {
			ignorePath = p
		}
	}
	for _, src := range []struct {
		path  string
		parse func(io.Reader) (map[string]bool, error)
	}{
		{ignorePath, finding.ParseIgnore},
		{baselinePath, finding.ParseBaseline},
	} {
		if src.path == "" {
			continue
		}
		f, err := os.Open(src.path)
		if err != nil {
			return nil, err
		}
		m, err := src.parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.path, err)
		}
		maps.Copy(skip, m)
	}
	return skip, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// selectRules applies --rules and --skip-rules; unknown IDs are errors.
func selectRules(rs []rules.Rule, only, skip string) ([]rules.Rule, error) {
	known := map[string]bool{}
	for _, r := range rs {
		known[r.ID] = true
	}
	split := func(flagName, s string) (map[string]bool, error) {
		m := map[string]bool{}
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if !known[id] {
				return nil, usagef("%s: no rule %q (see leakguard rules)", flagName, id)
			}
			m[id] = true
		}
		return m, nil
	}
	onlySet, err := split("--rules", only)
	if err != nil {
		return nil, err
	}
	skipSet, err := split("--skip-rules", skip)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rs, func(r rules.Rule) bool {
		return skipSet[r.ID] || len(onlySet) > 0 && !onlySet[r.ID]
	}), nil
}

var sizePattern = regexp.MustCompile(`(?i)^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$`)

// parseSize parses 10MB, 512k, 1GiB or a plain byte count.
func parseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (examples: 0, 512KB, 10MB, 1GB)", s)
	}
	var n int64
	if _, err := fmt.Sscan(m[1], &n); err != nil {
		return 0, err
	}
	switch strings.ToLower(m[2]) {
	case "k", "kb", "kib":
		n <<= 10
	case "m", "mb", "mib":
		n <<= 20
	case "g", "gb", "gib":
		n <<= 30
	}
	return n, nil
}
