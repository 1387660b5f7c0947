package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
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

Scan files, directories or standard input for credentials: cloud keys,
API tokens, private keys, connection strings with passwords, and (at low
confidence) generic password and secret assignments. Secrets are found
inside base64, percent-encoding and string escapes too.

Secrets are redacted in every format unless --no-redact is given; each
finding carries a fingerprint of the secret's content for ignore files
and baselines.

Examples:
  leakguard scan dir .
  leakguard scan dir --format sarif --output leakguard.sarif src/ deploy/
  git diff | leakguard scan stdin
  kubectl get secret app -o yaml | leakguard scan stdin --format json
  leakguard scan dir --baseline previous.json --min-confidence high .

Configuration: --config FILE, or .leakguard.toml (or a gitleaks
.gitleaks.toml) at the top of the first scanned directory. Ignore file:
--ignore FILE, or .leakguardignore there (one fingerprint per line).
A line containing "leakguard:allow" is never reported.

Exit codes:
  0  scan complete, nothing found
  1  scan complete, secrets found
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
		return usagef("scan: say what to scan: dir PATH... or stdin")
	}
	if !slices.Contains(report.Formats, o.format) {
		return usagef("unknown format %q (want %s)", o.format, strings.Join(report.Formats, ", "))
	}
	source, targets := pos[0], pos[1:]
	switch source {
	case "dir", "file", "files":
		if len(targets) == 0 {
			return usagef("scan dir: give at least one PATH")
		}
	case "stdin", "-":
		if len(targets) > 0 {
			return usagef("scan stdin takes no arguments")
		}
	default:
		return usagef("scan: unknown source %q (want dir or stdin)", source)
	}
	return a.runScan(ctx, o, source, targets)
}

func (a *App) runScan(ctx context.Context, o scanOptions, source string, targets []string) error {
	start := time.Now()
	minConf, err := rules.ParseConfidence(o.minConfidence)
	if err != nil {
		return usagef("--min-confidence: %v", err)
	}
	maxSize, err := parseSize(o.maxFileSize)
	if err != nil {
		return usagef("--max-file-size: %v", err)
	}
	dir := ""
	if source != "stdin" && source != "-" {
		if st, err := os.Stat(targets[0]); err == nil && st.IsDir() {
			dir = targets[0]
		}
	}
	cfg, err := loadConfig(o.configPath, dir)
	if err != nil {
		return err
	}
	catalogue, err := rules.Default()
	if err != nil {
		return err
	}
	rs, err := cfg.Apply(catalogue)
	if err != nil {
		return err
	}
	if rs, err = selectRules(rs, o.rulesOnly, o.skipRules); err != nil {
		return err
	}
	opts := detect.DefaultOptions()
	opts.Stopwords = cfg.Allow.Stopwords
	opts.AllowRegexes = cfg.SecretRegexes()
	eng, err := detect.New(rs, opts)
	if err != nil {
		return err
	}
	skip, err := loadSkips(cfg, o.ignorePath, o.baseline, dir)
	if err != nil {
		return err
	}

	set := finding.NewSet(skip)
	sc := &scan.Scanner{Engine: eng, Workers: o.workers, MaxFileSize: maxSize, ScanBinary: o.scanBinary, MinConfidence: minConf}
	var (
		stats   scan.Stats
		walkErr []error
		label   string
	)
	if source == "stdin" || source == "-" {
		label = "stdin"
		stats, err = sc.Run(ctx, scan.ReaderItem("stdin", a.Stdin), set)
	} else {
		label = strings.Join(targets, " ")
		w := scan.FileWalker{Exclude: cfg.PathExcluded()}
		var files []scan.File
		files, walkErr, err = w.Walk(ctx, targets)
		if err != nil {
			return err
		}
		var bar *progressBar
		if !o.noProgress && a.isTerminal(a.Stderr) {
			bar = newProgressBar(a.Stderr, files)
			sc.Progress = bar
			bar.start()
		}
		stats, err = sc.Run(ctx, scan.FileItems(ctx, files), set)
		bar.stop()
	}
	stats.Errors = append(walkErr, stats.Errors...)
	complete := err == nil && len(stats.Errors) == 0

	rep := &report.Report{
		Tool:     report.Tool{Name: "leakguard", Version: a.Version},
		Findings: set.Findings(!o.noRedact),
		Scan: report.Summary{
			Source: label, Items: stats.Items, Bytes: stats.Bytes,
			SkippedBinary: stats.SkippedBinary, SkippedLarge: stats.SkippedLarge,
			Redacted: !o.noRedact, Complete: complete,
			DurationMS: time.Since(start).Milliseconds(),
		},
	}
	for _, e := range stats.Errors {
		rep.Scan.Errors = append(rep.Scan.Errors, e.Error())
	}
	if err != nil {
		rep.Scan.Errors = append(rep.Scan.Errors, err.Error())
	}
	out, closeOut, oerr := a.openOutput(o.output)
	if oerr != nil {
		return oerr
	}
	if werr := report.Write(out, o.format, rep); werr != nil {
		closeOut()
		return fmt.Errorf("write report: %w", werr)
	}
	if cerr := closeOut(); cerr != nil {
		return fmt.Errorf("write report: %w", cerr)
	}
	report.WriteSummary(a.Stderr, rep)
	switch {
	case !complete:
		return exitCode(ExitError)
	case len(rep.Findings) > 0:
		return exitCode(ExitFindings)
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
	for k := range cf {
		skip[k] = true
	}
	if ignorePath == "" && dir != "" {
		if p := filepath.Join(dir, ".leakguardignore"); fileExists(p) {
			ignorePath = p
		}
	}
	for _, src := range []struct {
		path  string
		parse func(*os.File) (map[string]bool, error)
	}{
		{ignorePath, func(f *os.File) (map[string]bool, error) { return finding.ParseIgnore(f) }},
		{baselinePath, func(f *os.File) (map[string]bool, error) { return finding.ParseBaseline(f) }},
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
		for k := range m {
			skip[k] = true
		}
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
