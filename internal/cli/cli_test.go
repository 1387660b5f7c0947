package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/leakguard/leakguard/internal/detect"
)

// Test secrets: well-formed, never real.
var (
	ghRandom  = "Rk3v9QxT2mWb7LpZ4nYc8HsJ1dFg6A"
	ghToken   = "ghp_" + ghRandom + detect.CRC32Checksum(ghRandom)
	awsID     = "AKIARZPUZDIKC6T4U5BK" // decodes to account 123456789012
	awsSecret = "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"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Version: "test"}
	code := app.Run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func leakyTree(t *testing.T) string {
	return writeFiles(t, map[string]string{
		"app/config.py":   "GITHUB_TOKEN = \"" + ghToken + "\"\n",
		"deploy/prod.env": "AWS_ACCESS_KEY_ID=" + awsID + "\nAWS_SECRET_ACCESS_KEY=" + awsSecret + "\n",
		"k8s/secret.yaml": "apiVersion: v1\nkind: Secret\ndata:\n  token: " + base64.StdEncoding.EncodeToString([]byte(ghToken)) + "\n",
		"docs/readme.md":  "Use AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in examples.\n",
		"bin/blob.bin":    "\x00\x01" + ghToken,
	})
}

type jsonReport struct {
	Version int `json:"version"`
	Scan    struct {
		Complete      bool  `json:"complete"`
		SkippedBinary int64 `json:"skipped_binary"`
	} `json:"scan"`
	Findings []struct {
		RuleID      string            `json:"rule_id"`
		Secret      string            `json:"secret"`
		Identifier  string            `json:"identifier"`
		Fingerprint string            `json:"fingerprint"`
		Attributes  map[string]string `json:"attributes"`
		Locations   []struct {
			Path    string   `json:"path"`
			Line    int      `json:"line"`
			Column  int      `json:"column"`
			Decoded []string `json:"decoded"`
		} `json:"locations"`
	} `json:"findings"`
}

func decode(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("bad JSON report: %v\n%s", err, s)
	}
	return r
}

func TestScanDirJSON(t *testing.T) {
	dir := leakyTree(t)
	res := run(t, "", "scan", "dir", "--format", "json", dir)
	if res.code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr:\n%s", res.code, res.stderr)
	}
	r := decode(t, res.stdout)
	if r.Version != 1 || !r.Scan.Complete || r.Scan.SkippedBinary != 1 {
		t.Fatalf("scan summary: %+v", r.Scan)
	}
	if len(r.Findings) != 2 {
		t.Fatalf("got %d findings, want 2 (GitHub token twice, AWS pair once): %+v", len(r.Findings), r.Findings)
	}
	var gh, aws bool
	for _, f := range r.Findings {
		switch {
		case strings.HasPrefix(f.Secret, "ghp_"):
			gh = true
			if len(f.Locations) != 2 {
				t.Errorf("GitHub token: %d locations, want 2 (plain and base64)", len(f.Locations))
			}
			for _, l := range f.Locations {
				if strings.HasSuffix(l.Path, "secret.yaml") && (l.Line != 4 || l.Column != 10 || len(l.Decoded) != 1 || l.Decoded[0] != "base64") {
					t.Errorf("base64 location = %+v", l)
				}
			}
		case f.Identifier == awsID:
			aws = true
			if f.Attributes["aws_account_id"] != "123456789012" {
				t.Errorf("AWS account = %q", f.Attributes["aws_account_id"])
			}
		}
	}
	if !gh || !aws {
		t.Fatalf("missing finding: github %v aws %v: %+v", gh, aws, r.Findings)
	}
}

// TestNoPlaintextSecretInAnyOutput is the redaction guarantee: whatever
// the format, the secrets never reach stdout, stderr or the output file
// unless --no-redact is given.
func TestNoPlaintextSecretInAnyOutput(t *testing.T) {
	dir := leakyTree(t)
	secrets := []string{ghToken, ghRandom[:12], awsSecret, awsSecret[8:20]}
	for _, format := range []string{"text", "json", "jsonl", "sarif", "csv"} {
		outFile := filepath.Join(t.TempDir(), "report")
		res := run(t, "", "scan", "dir", "--format", format, "--output", outFile, dir)
		if res.code != ExitFindings {
			t.Fatalf("%s: exit %d: %s", format, res.code, res.stderr)
		}
		file, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		if len(file) == 0 {
			t.Fatalf("%s: empty report", format)
		}
		for _, s := range secrets {
			for name, out := range map[string]string{"stdout": res.stdout, "stderr": res.stderr, "file": string(file)} {
				if strings.Contains(out, s) {
					t.Errorf("%s: plaintext secret %q in %s", format, s[:6], name)
				}
			}
		}
		st, _ := os.Stat(outFile)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: report mode %v, want 0600", format, st.Mode().Perm())
		}
	}
	res := run(t, "", "scan", "dir", "--format", "json", "--no-redact", dir)
	if !strings.Contains(res.stdout, ghToken) || !strings.Contains(res.stdout, awsSecret) {
		t.Fatal("--no-redact did not show the secrets")
	}
}

func TestScanStdin(t *testing.T) {
	res := run(t, "export TOKEN="+ghToken+"\n", "scan", "stdin", "--format", "jsonl")
	if res.code != ExitFindings || strings.Count(res.stdout, "\n") != 1 || !strings.Contains(res.stdout, `"path":"stdin"`) {
		t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	if res := run(t, "nothing to see\n", "scan", "stdin"); res.code != ExitClean {
		t.Fatalf("clean stdin: exit %d: %s", res.code, res.stderr)
	}
}

func TestExitCodes(t *testing.T) {
	clean := writeFiles(t, map[string]string{"a.go": "package a\n// password = \"${DB_PASSWORD}\"\n"})
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"Clean", []string{"scan", "dir", clean}, ExitClean},
		{"MissingPath", []string{"scan", "dir", filepath.Join(clean, "nope")}, ExitError},
		{"NoSource", []string{"scan"}, ExitError},
		{"BadFormat", []string{"scan", "dir", "--format", "xml", clean}, ExitError},
		{"BadRule", []string{"scan", "dir", "--rules", "no-such-rule", clean}, ExitError},
		{"BadSize", []string{"scan", "dir", "--max-file-size", "lots", clean}, ExitError},
		{"Help", []string{"scan", "--help"}, ExitClean},
		{"UnknownCommand", []string{"frobnicate"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := run(t, "", tt.args...); res.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", res.code, tt.code, res.stderr)
			}
		})
	}
}

func TestBaselineAndIgnore(t *testing.T) {
	dir := leakyTree(t)
	first := run(t, "", "scan", "dir", "--format", "json", dir)
	base := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(base, []byte(first.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(t, "", "scan", "dir", "--baseline", base, dir); res.code != ExitClean {
		t.Fatalf("with baseline: exit %d\n%s", res.code, res.stdout)
	}
	// Moving the secret to another line does not defeat the baseline...
	if err := os.WriteFile(filepath.Join(dir, "app/config.py"), []byte("\n\n\nX = 1\nGITHUB_TOKEN = \""+ghToken+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := run(t, "", "scan", "dir", "--baseline", base, dir); res.code != ExitClean {
		t.Fatalf("moved secret: exit %d\n%s", res.code, res.stdout)
	}
	// ...but a new secret is reported.
	otherRandom := "Zq7Wm2Xk9PvB4nRt6YhJ3cLd8FgS1a"
	other := "ghp_" + otherRandom + detect.CRC32Checksum(otherRandom)
	if err := os.WriteFile(filepath.Join(dir, "new.txt"), []byte("t="+other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, "", "scan", "dir", "--format", "json", "--baseline", base, dir)
	if r := decode(t, res.stdout); res.code != ExitFindings || len(r.Findings) != 1 {
		t.Fatalf("new secret: exit %d, %d findings", res.code, len(r.Findings))
	}
	// An ignore file of fingerprints in the scanned directory.
	r := decode(t, res.stdout)
	if err := os.WriteFile(filepath.Join(dir, ".leakguardignore"), []byte("# reviewed\n"+r.Findings[0].Fingerprint+" test token\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := run(t, "", "scan", "dir", "--baseline", base, dir); res.code != ExitClean {
		t.Fatalf("ignored: exit %d\n%s", res.code, res.stdout)
	}
}

func TestGitleaksConfig(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		".gitleaks.toml": `title = "team rules"
[[rules]]
id = "acme-token"
description = "ACME token"
regex = '''acme_([a-z0-9]{24})'''
secretGroup = 1
keywords = ["acme_"]
[[rules.allowlists]]
stopwords = ["notreal"]
[[rules]]
id = "pkcs12-file"
description = "PKCS#12 keystore"
path = '''(?i)\.p(?:12|fx)$'''
[allowlist]
paths = ['''vendor/''']
`,
		"certs/client.p12": "\x30\x82\x01\x00binary keystore",
		"a.txt":            "k = acme_4f9k2m8q1z7x3c6v0b5n9a2s\n",
		"b.txt":            "k = acme_notreal0000000000000000\n",
		"vendor/c.txt":     "k = acme_7h2j5k8l1q4w7e0r3t6y9u2i\n",
	})
	res := run(t, "", "scan", "dir", "--format", "json", "--no-redact", dir)
	r := decode(t, res.stdout)
	if res.code != ExitFindings || len(r.Findings) != 2 || r.Findings[0].RuleID != "acme-token" || r.Findings[0].Secret != "4f9k2m8q1z7x3c6v0b5n9a2s" {
		t.Fatalf("exit %d findings %+v stderr %s", res.code, r.Findings, res.stderr)
	}
	// The path-only rule reports the keystore, identified by its content.
	if f := r.Findings[1]; f.RuleID != "pkcs12-file" || !strings.HasPrefix(f.Secret, "sha256:") || !strings.HasSuffix(f.Locations[0].Path, "certs/client.p12") {
		t.Fatalf("path-only finding %+v", f)
	}
}

func TestSARIFShape(t *testing.T) {
	res := run(t, "", "scan", "dir", "--format", "sarif", leakyTree(t))
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID              string            `json:"ruleId"`
				RuleIndex           int               `json:"ruleIndex"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 2 {
		t.Fatalf("sarif: %+v", log)
	}
	run := log.Runs[0]
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.PartialFingerprints["leakguardSecret/v1"] == "" {
			t.Errorf("result %+v: bad rule index or fingerprint", r)
		}
		for _, l := range r.Locations {
			if l.PhysicalLocation.Region.StartLine < 1 || l.PhysicalLocation.ArtifactLocation.URI == "" {
				t.Errorf("bad location %+v", l)
			}
		}
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestOddInput: invalid UTF-8 around a secret, NUL bytes (binary, skipped
// unless asked), an empty file and a file name that is not UTF-8.
func TestOddInput(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"latin1.txt":        "caf\xe9 \xff\xfe token=" + ghToken + " \xc3\x28\n",
		"empty.txt":         "",
		"nul.dat":           "head\x00tail " + ghToken + "\n",
		"name-\xff\xfe.env": "x",
	})
	res := run(t, "", "scan", "dir", "--format", "json", dir)
	r := decode(t, res.stdout)
	if res.code != ExitFindings || len(r.Findings) != 1 || len(r.Findings[0].Locations) != 1 ||
		!strings.HasSuffix(r.Findings[0].Locations[0].Path, "latin1.txt") || r.Findings[0].Locations[0].Column != 15 {
		t.Fatalf("exit %d findings %+v\n%s", res.code, r.Findings, res.stderr)
	}
	res = run(t, "", "scan", "dir", "--format", "json", "--scan-binary", dir)
	if r := decode(t, res.stdout); len(r.Findings) != 1 || len(r.Findings[0].Locations) != 2 {
		t.Fatalf("--scan-binary: %+v", r.Findings)
	}
}
