package cli

import (
	"encoding/json"
	"github.com/leakguard/leakguard/internal/mototest"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/gittest"
)

// leakguardBin builds the real binary once: hooks run it as git would.
func leakguardBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "leakguard-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "leakguard")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/leakguard/leakguard/cmd/leakguard").CombinedOutput()
		if err != nil {
			binErr = &buildError{out: string(out), err: err}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := mototest.Main(m)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func leakyRepo(t *testing.T) *gittest.Repo {
	r := gittest.New(t)
	r.Write("README.md", "# app\n")
	r.Commit("init")
	r.Write("deploy/prod.env", "AWS_ACCESS_KEY_ID="+awsID+"\nAWS_SECRET_ACCESS_KEY="+awsSecret+"\n")
	r.CommitAs("Mallory Intern", "mallory@example.test", "add prod config")
	r.Write("deploy/prod.env", "# moved to the vault\n")
	r.Commit("remove keys")
	return r
}

func TestScanGit(t *testing.T) {
	r := leakyRepo(t)
	r.Git("remote", "add", "origin", "git@github.com:acme/app.git")
	res := run(t, "", "scan", "git", "--format", "json", r.Dir)
	if res.code != ExitFindings {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var rep struct {
		Scan struct {
			Commits int `json:"commits"`
		} `json:"scan"`
		Findings []struct {
			Identifier string `json:"identifier"`
			Locations  []struct {
				Path, Commit, Author, Email, URL string
				Line                             int
			} `json:"locations"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Scan.Commits != 3 || len(rep.Findings) != 1 {
		t.Fatalf("report %+v", rep)
	}
	l := rep.Findings[0].Locations[0]
	commit := r.Git("rev-parse", "HEAD~1")
	if l.Commit != commit || l.Author != "Mallory Intern" || l.Path != "deploy/prod.env" || l.Line != 1 ||
		l.URL != "https://github.com/acme/app/blob/"+commit+"/deploy/prod.env#L1" {
		t.Fatalf("location %+v", l)
	}
}

func TestScanGitRanges(t *testing.T) {
	r := leakyRepo(t)
	head := r.Git("rev-parse", "HEAD")
	first := r.Git("rev-parse", "HEAD~2")
	zeros := strings.Repeat("0", 40)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"FirstPushOfBranch", []string{"--range", zeros + ".." + head}, ExitFindings},
		{"BaseEqualsHead", []string{"--range", head + ".." + head}, ExitClean},
		{"Range", []string{"--range", first + ".." + head}, ExitFindings},
		{"AfterLeak", []string{"--range", "HEAD~1..HEAD"}, ExitClean},
		{"Since", []string{"--since", "HEAD~1"}, ExitClean},
		{"Branch", []string{"--branch", "main"}, ExitFindings},
		{"MaxCommits", []string{"--max-commits", "1"}, ExitClean},
		{"WrongRef", []string{"--branch", "no-such-branch"}, ExitError},
		{"WrongRangeBase", []string{"--range", "deadbeef..HEAD"}, ExitError},
		{"OptionInjection", []string{"--branch", "--output=/tmp/x"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "git"}, tt.args...)
			res := run(t, "", append(args, r.Dir)...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", res.code, tt.code, res.stderr)
			}
			if tt.code == ExitError && !strings.Contains(res.stderr, "leakguard:") {
				t.Fatalf("no error message: %q", res.stderr)
			}
		})
	}
}

func TestScanGitFailsClosed(t *testing.T) {
	// Missing repository, a directory that is not one, a corrupt one.
	if res := run(t, "", "scan", "git", filepath.Join(t.TempDir(), "nope")); res.code != ExitError {
		t.Fatalf("missing repo: exit %d", res.code)
	}
	if res := run(t, "", "scan", "git", t.TempDir()); res.code != ExitError || !strings.Contains(res.stderr, "not a git repository") {
		t.Fatalf("not a repo: exit %d %s", res.code, res.stderr)
	}
	r := leakyRepo(t)
	r.Git("gc", "-q") // pack everything, then corrupt the pack
	packs, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs %v", packs)
	}
	b, _ := os.ReadFile(packs[0])
	for i := 200; i < len(b)-40; i += 7 {
		b[i] ^= 0x5a
	}
	os.Chmod(packs[0], 0o644)
	os.WriteFile(packs[0], b, 0o644)
	res := run(t, "", "scan", "git", r.Dir)
	if res.code != ExitError || strings.Contains(res.stderr, " 0 secret") && !strings.Contains(res.stderr, "INCOMPLETE") {
		t.Fatalf("corrupt repo: exit %d\n%s", res.code, res.stderr)
	}

	// git not installed: the real binary with an empty PATH.
	cmd := exec.Command(leakguardBin(t), "scan", "git", leakyRepo(t).Dir)
	cmd.Env = []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != ExitError || !strings.Contains(string(out), "git is required") {
		t.Fatalf("no git: %v\n%s", err, out)
	}
}

func TestScanGitState(t *testing.T) {
	r := leakyRepo(t)
	state := filepath.Join(t.TempDir(), "state.json")
	if res := run(t, "", "scan", "git", "--state", state, r.Dir); res.code != ExitFindings {
		t.Fatalf("first run: exit %d %s", res.code, res.stderr)
	}
	res := run(t, "", "scan", "git", "--state", state, "--format", "json", r.Dir)
	if res.code != ExitClean || !strings.Contains(res.stdout, `"items": 0`) {
		t.Fatalf("second run scanned again: exit %d\n%s", res.code, res.stdout)
	}
	r.Write("new.env", "TOKEN="+ghToken+"\n")
	r.Commit("new leak")
	res = run(t, "", "scan", "git", "--state", state, "--format", "json", r.Dir)
	if res.code != ExitFindings || !strings.Contains(res.stdout, `"commits": 1`) {
		t.Fatalf("third run: exit %d\n%s", res.code, res.stdout)
	}
}

func TestPreCommitHook(t *testing.T) {
	bin := leakguardBin(t)
	r := gittest.New(t)
	// An existing hook is kept and still runs.
	marker := filepath.Join(t.TempDir(), "old-hook-ran")
	r.Write(".git/hooks/pre-commit", "#!/bin/sh\ntouch "+marker+"\n")
	os.Chmod(filepath.Join(r.Dir, ".git/hooks/pre-commit"), 0o755)
	cmd := exec.Command(bin, "hook", "install", r.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install: %v %s", err, out)
	}
	r.Write("ok.txt", "fine\n")
	r.Commit("clean first commit")
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the existing hook did not run")
	}
	r.Write("app.py", "TOKEN = \""+ghToken+"\"\n")
	r.Git("add", "app.py")
	err := r.TryGit("commit", "-q", "-m", "leak")
	if err == nil {
		t.Fatal("commit with a secret was not blocked")
	}
	// The documented bypass works.
	r.Git("commit", "-q", "--no-verify", "-m", "leak anyway")
}

// bareWithHook makes a bare repository with the pre-receive hook installed.
func bareWithHook(t *testing.T, args ...string) string {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "origin.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command(leakguardBin(t), append([]string{"hook", "install", "--pre-receive"}, append(args, bare)...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install: %v %s", err, out)
	}
	return bare
}

func push(r *gittest.Repo, remote string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"push", remote}, args...)...)
	cmd.Dir = r.Dir
	cmd.Env = gittest.Env("Alice Dev", "alice@example.test")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPushProtectionFile(t *testing.T) {
	bare := bareWithHook(t, "--allow-bypass")
	r := gittest.New(t)
	r.Write("README.md", "clean\n")
	r.Commit("clean")
	if out, err := push(r, "file://"+bare, "main"); err != nil {
		t.Fatalf("clean push rejected: %v\n%s", err, out)
	}
	r.Write("deploy/prod.env", "AWS_ACCESS_KEY_ID="+awsID+"\nAWS_SECRET_ACCESS_KEY="+awsSecret+"\n")
	r.CommitAs("Someone Else", "else@example.test", "add keys")
	r.Write("deploy/prod.env", "removed\n")
	r.Commit("remove keys again")
	out, err := push(r, "file://"+bare, "main")
	if err == nil {
		t.Fatalf("leaky push accepted:\n%s", out)
	}
	for _, want := range []string{"pre-receive hook declined", "PUSH REJECTED", "deploy/prod.env:2", "aws", "q8Jv*****"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, awsSecret) {
		t.Fatal("the secret reached the pusher's terminal")
	}
	// A new branch with the same commits is rejected too (quarantine,
	// first push of a ref).
	if out, err := push(r, "file://"+bare, "main:refs/heads/other"); err == nil {
		t.Fatalf("new branch accepted:\n%s", out)
	}
	// The recorded bypass.
	fp := ""
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "fingerprint: "); i >= 0 {
			fp = strings.TrimSpace(line[i+len("fingerprint: "):])
		}
	}
	if fp == "" {
		t.Fatalf("no fingerprint in:\n%s", out)
	}
	if out, err := push(r, "file://"+bare, "-o", "leakguard.allow="+fp, "main"); err != nil {
		t.Fatalf("bypass push rejected: %v\n%s", err, out)
	}
	logData, err := os.ReadFile(filepath.Join(bare, "leakguard-bypass.log"))
	if err != nil || !strings.Contains(string(logData), fp) {
		t.Fatalf("bypass not recorded: %v %s", err, logData)
	}
}

func TestPushProtectionHTTP(t *testing.T) {
	backend := "/usr/lib/git-core/git-http-backend"
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	bare := bareWithHook(t)
	root := filepath.Dir(bare)
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=tester"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/origin.git"

	r := gittest.New(t)
	r.Write("a.txt", "clean\n")
	r.Commit("clean")
	if out, err := push(r, url, "main"); err != nil {
		t.Fatalf("clean push over HTTP rejected: %v\n%s", err, out)
	}
	r.Write("app.py", "TOKEN = \""+ghToken+"\"\n")
	r.Commit("leak")
	out, err := push(r, url, "main")
	if err == nil || !strings.Contains(out, "PUSH REJECTED") || !strings.Contains(out, "app.py:1") {
		t.Fatalf("leaky push over HTTP: %v\n%s", err, out)
	}
	if strings.Contains(out, ghToken) {
		t.Fatal("secret printed to the pusher")
	}
	// Bypass is refused when the server does not allow it.
	if out, err := push(r, url, "-o", "leakguard.allow=lg1:00000000000000000000000000000000", "main"); err == nil {
		t.Fatalf("push option accepted without --allow-bypass:\n%s", out)
	}
}

func TestParseRefUpdates(t *testing.T) {
	z := strings.Repeat("0", 40)
	a := strings.Repeat("a", 40)
	got, err := parseRefUpdates(strings.NewReader(z + " " + a + " refs/heads/main\n" + a + " " + z + " refs/heads/gone\n"))
	if err != nil || len(got) != 2 || got[1].Ref != "refs/heads/gone" {
		t.Fatalf("got %+v %v", got, err)
	}
	if _, err := parseRefUpdates(strings.NewReader("garbage\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseRefUpdates(f *testing.F) {
	f.Add(strings.Repeat("0", 40) + " " + strings.Repeat("a", 40) + " refs/heads/main\n")
	f.Add("x y z\n\x00")
	f.Fuzz(func(t *testing.T, in string) {
		ups, err := parseRefUpdates(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range ups {
			if !isHexID(u.Old) || !isHexID(u.New) || u.Ref == "" {
				t.Fatalf("accepted %+v", u)
			}
		}
	})
}

func TestScanGitTimeoutIsPartial(t *testing.T) {
	res := run(t, "", "scan", "git", "--timeout", "1ns", leakyRepo(t).Dir)
	if res.code != ExitError || !strings.Contains(res.stderr, "INCOMPLETE") || !strings.Contains(res.stderr, "partial") {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
}

func TestGlobalHook(t *testing.T) {
	home := t.TempDir()
	globalCfg := filepath.Join(home, "gitconfig")
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "GIT_CONFIG_GLOBAL="+globalCfg, "GIT_CONFIG_NOSYSTEM=1")
	cmd := exec.Command(leakguardBin(t), "hook", "install", "--global")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install --global: %v\n%s", err, out)
	}
	b, err := os.ReadFile(globalCfg)
	if err != nil || !strings.Contains(string(b), "hooksPath") {
		t.Fatalf("core.hooksPath not set: %v %s", err, b)
	}
	// A repository's own pre-commit hook still runs under the global one.
	r := gittest.New(t)
	marker := filepath.Join(t.TempDir(), "repo-hook-ran")
	r.Write(".git/hooks/pre-commit", "#!/bin/sh\ntouch "+marker+"\n")
	os.Chmod(filepath.Join(r.Dir, ".git/hooks/pre-commit"), 0o755)
	commit := func(msg string) error {
		c := exec.Command("git", "commit", "-q", "-m", msg)
		c.Dir = r.Dir
		c.Env = append(env, "GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.test", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.test")
		return c.Run()
	}
	r.Write("ok.txt", "fine\n")
	r.Git("add", "ok.txt")
	if err := commit("clean"); err != nil {
		t.Fatalf("clean commit blocked: %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the repository's own hook did not run")
	}
	r.Write("leak.env", "GITHUB_TOKEN="+ghToken+"\n")
	r.Git("add", "leak.env")
	if err := commit("leak"); err == nil {
		t.Fatal("global hook did not block the secret")
	}
}
