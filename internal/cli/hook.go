package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/leakguard/leakguard/internal/git"
)

const hookUsage = `Usage:
  leakguard hook install [REPO]                  pre-commit hook in one repository
  leakguard hook install --global                pre-commit hook for every repository
  leakguard hook install --pre-receive BAREREPO  push protection on a server

The pre-commit hook runs 'leakguard scan staged' and blocks a commit that
adds a secret; 'git commit --no-verify' skips it. The pre-receive hook runs
'leakguard scan pre-receive' and rejects a push that introduces a secret.

An existing hook is never overwritten: it is kept as HOOK.pre-leakguard
and run first. --global sets core.hooksPath (or uses the one already set)
and still runs each repository's own .git/hooks/pre-commit.

Examples:
  leakguard hook install
  leakguard hook install --global
  leakguard hook install --pre-receive --allow-bypass /srv/git/app.git

Flags:
`

// hookMarker identifies hooks LeakGuard wrote (and may rewrite).
const hookMarker = "# installed by leakguard hook install"

func (a *App) hook(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "post-receive" {
		return a.postReceive(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "install" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(a.Stdout, hookUsage)
			return nil
		}
		return usagef("hook: want 'hook install'")
	}
	fs := flag.NewFlagSet("hook install", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	global := fs.Bool("global", false, "install for every repository of this user (core.hooksPath)")
	preReceive := fs.Bool("pre-receive", false, "install the server-side pre-receive hook in a bare repository")
	allowBypass := fs.Bool("allow-bypass", false, "pre-receive: let pushers skip a finding with git push -o leakguard.allow=FINGERPRINT (recorded)")
	timeout := fs.Duration("timeout", 0, "pre-receive: time budget (default 10s)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), hookUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if len(pos) > 1 || *global && len(pos) > 0 {
		return usagef("hook install: at most one repository, and none with --global")
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "leakguard"
	}
	exe = shellQuote(exe)

	if *preReceive {
		repo, err := git.Open(ctx, dir, "")
		if err != nil {
			return err
		}
		hooksDir, err := repoHooksDir(ctx, repo)
		if err != nil {
			return err
		}
		flags := "--no-progress"
		if *allowBypass {
			flags += " --allow-bypass"
			if _, err := repo.Output(ctx, "config", "receive.advertisePushOptions", "true"); err != nil {
				return err
			}
		}
		if *timeout > 0 {
			flags += " --timeout " + timeout.String()
		}
		body := fmt.Sprintf(`input=$(cat)
if [ -x "$0.pre-leakguard" ]; then
	printf '%%s\n' "$input" | "$0.pre-leakguard" "$@" || exit $?
fi
printf '%%s\n' "$input" | exec %s scan pre-receive %s
`, exe, flags)
		p, err := installHook(hooksDir, "pre-receive", body)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "installed %s\n", p)
		return nil
	}

	var hooksDir, chainRepo string
	if *global {
		out, _ := exec.CommandContext(ctx, "git", "config", "--global", "--get", "core.hooksPath").Output()
		hooksDir = strings.TrimSpace(string(out))
		if rest, ok := strings.CutPrefix(hooksDir, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return fmt.Errorf("hook install --global: %w", err)
			}
			hooksDir = filepath.Join(home, rest) // git expands ~ the same way
		}
		if hooksDir != "" && !filepath.IsAbs(hooksDir) {
			// Relative to each repository (husky's .husky): no one place.
			return fmt.Errorf("hook install --global: the global core.hooksPath %q is relative to each repository; install per repository instead", hooksDir)
		}
		if hooksDir == "" {
			cfg, err := os.UserConfigDir()
			if err != nil {
				return fmt.Errorf("hook install --global: %w", err)
			}
			hooksDir = filepath.Join(cfg, "leakguard", "hooks")
			if out, err := exec.CommandContext(ctx, "git", "config", "--global", "core.hooksPath", hooksDir).CombinedOutput(); err != nil {
				return fmt.Errorf("set core.hooksPath: %v: %s", err, out)
			}
		}
		// core.hooksPath hides each repository's own hooks: run them too.
		chainRepo = `repo_hook="$(git rev-parse --git-dir)/hooks/pre-commit"
if [ -x "$repo_hook" ] && [ "$repo_hook" != "$0" ]; then "$repo_hook" "$@" || exit $?; fi
`
	} else {
		repo, err := git.Open(ctx, dir, "")
		if err != nil {
			return err
		}
		if hooksDir, err = repoHooksDir(ctx, repo); err != nil {
			return err
		}
	}
	body := fmt.Sprintf(`if [ -x "$0.pre-leakguard" ]; then "$0.pre-leakguard" "$@" || exit $?; fi
%sexec %s scan staged --no-progress
`, chainRepo, exe)
	p, err := installHook(hooksDir, "pre-commit", body)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "installed %s (skip it once with git commit --no-verify)\n", p)
	return nil
}

// installHook writes hooksDir/name, keeping a hook that is not ours as
// name.pre-leakguard (run first by ours).
func installHook(hooksDir, name, body string) (string, error) {
	if err := os.MkdirAll(hooksDir, 0o755); err != nil {
		return "", fmt.Errorf("install hook: %w", err)
	}
	p := filepath.Join(hooksDir, name)
	if old, err := os.ReadFile(p); err == nil && !strings.Contains(string(old), hookMarker) {
		kept := p + ".pre-leakguard"
		if _, err := os.Stat(kept); err == nil {
			return "", fmt.Errorf("install hook: %s exists and so does %s: merge them by hand", p, kept)
		}
		if err := os.Rename(p, kept); err != nil {
			return "", fmt.Errorf("install hook: keep existing hook: %w", err)
		}
	}
	script := "#!/bin/sh\n" + hookMarker + "\n" + body
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("install hook: %w", err)
	}
	return p, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// repoHooksDir is where git looks for the repository's hooks: its own
// core.hooksPath (relative to the work tree) or GIT_DIR/hooks. (Repo
// commands override core.hooksPath for safety, so the value is read with
// a plain git config.)
func repoHooksDir(ctx context.Context, repo *git.Repo) (string, error) {
	gitDir, err := repo.Output(ctx, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return "", err
	}
	out, _ := exec.CommandContext(ctx, "git", "-C", repo.Dir, "config", "--get", "core.hooksPath").Output()
	if p := strings.TrimSpace(string(out)); p != "" {
		if filepath.IsAbs(p) {
			return p, nil
		}
		top, err := repo.Output(ctx, "rev-parse", "--show-toplevel")
		if err != nil {
			return "", fmt.Errorf("core.hooksPath %q is relative but the repository has no work tree", p)
		}
		return filepath.Join(strings.TrimSpace(string(top)), p), nil
	}
	return filepath.Join(strings.TrimSpace(string(gitDir)), "hooks"), nil
}
