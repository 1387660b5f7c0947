// testdata/sarif-schema-2.1.0.json is the official JSON schema of OASIS
// SARIF 2.1.0 (Errata 01), published at
// https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json
// (its "id"), copied unmodified from the OASIS SARIF TC repository
// (github.com/oasis-tcs/sarif-spec, Schemata/sarif-schema-2.1.0.json at
// commit 0a8091f7d4057e57b6d8d9b56129e5f918747b34). It is a draft-04 schema.

package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/leakguard/leakguard/internal/finding"
)

const sarifSchemaFile = "sarif-schema-2.1.0.json"

// offline refuses every schema resource not already added to the compiler,
// so that validation never goes to the network. (The library serves the
// draft metaschemas from copies embedded in it, without asking the loader.)
type offline struct{}

func (offline) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema resource %s not available offline", u)
}

// sarifSchema compiles the SARIF 2.1.0 schema from testdata.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	loc, err := filepath.Abs(filepath.Join("testdata", sarifSchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", sarifSchemaFile, err)
	}
	if title, _ := doc.(map[string]any)["title"].(string); !strings.Contains(title, "Static Analysis Results Format (SARIF) Version 2.1.0") {
		t.Fatalf("%s: title %q is not the SARIF 2.1.0 schema's", sarifSchemaFile, title)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.AssertFormat() // check "uri", "uri-reference" and "date-time" values too
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compiling %s: %v", sarifSchemaFile, err)
	}
	return sch
}

// sarifTestReport is a report with the kinds of findings a scan produces.
func sarifTestReport() *Report {
	return &Report{
		Tool: Tool{Name: "leakguard", Version: "1.2.3"},
		Scan: Summary{Source: ".", Items: 42, Bytes: 123456, Redacted: true, Complete: true, DurationMS: 17},
		Findings: []finding.Finding{
			{
				// A provider finding seen twice, once under a path with a
				// space and a non-ASCII character, once with a ./ prefix.
				RuleID:      "aws-access-key",
				Description: "AWS access key",
				Provider:    "aws",
				Confidence:  "high",
				Tier:        "provider",
				Fingerprint: finding.Fingerprint("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
				Secret:      finding.Redact("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
				Identifier:  "AKIAIOSFODNN7EXAMPLE",
				Hint:        "Deactivate the key in IAM and create a new one.",
				Locations: []finding.Location{
					{Path: "src/my dir/café.go", Line: 12, Column: 20},
					{Path: "./config/prod.env", Line: 3, Column: 1},
				},
			},
			{
				// A generic, low-confidence finding; no hint, and a
				// location without a line or column.
				RuleID:      "generic-api-key",
				Description: "Generic API key",
				Confidence:  "low",
				Tier:        "generic",
				Fingerprint: finding.Fingerprint("3f9a1c7e5b2d48f0a6c1e9d7b3f5a2c8"),
				Secret:      finding.Redact("3f9a1c7e5b2d48f0a6c1e9d7b3f5a2c8"),
				Locations:   []finding.Location{{Path: "settings.json"}},
			},
			{
				// A finding from git history.
				RuleID:      "github-pat",
				Description: "GitHub personal access token",
				Provider:    "github",
				Confidence:  "high",
				Tier:        "provider",
				Fingerprint: finding.Fingerprint("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
				Secret:      finding.Redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
				Attributes:  map[string]string{"scopes": "repo"},
				Locations: []finding.Location{{
					Path: "deploy/ci.yml", Line: 7, Column: 15,
					Commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
					Author: "Zoë Example", Email: "zoe@example.com",
					Date: "2024-05-01T12:00:00Z",
					URL:  "https://github.com/example/repo/blob/4b825dc642cb6eb9a060e54bf8d69288fbee4904/deploy/ci.yml#L7",
				}},
			},
			{
				// A second result for a rule already seen, found inside
				// base64 text.
				RuleID:      "aws-access-key",
				Description: "AWS access key",
				Provider:    "aws",
				Confidence:  "medium",
				Tier:        "provider",
				Fingerprint: finding.Fingerprint("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
				Secret:      finding.Redact("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
				Locations: []finding.Location{
					{Path: "k8s/secret.yaml", Line: 9, Column: 11, Decoded: []string{"base64"}},
				},
			},
		},
	}
}

func writeSARIFDoc(t *testing.T, r *Report) (raw []byte, doc any) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v\n%s", err, buf.Bytes())
	}
	return buf.Bytes(), doc
}

func TestSARIFValidAgainstSchema(t *testing.T) {
	sch := sarifSchema(t)

	// The schema must catch what it is here to catch: if these pass, the
	// validation below proves nothing.
	t.Run("schema rejects invalid SARIF", func(t *testing.T) {
		_, base := writeSARIFDoc(t, sarifTestReport())
		for name, mutate := range map[string]func(log map[string]any){
			"level fatal":      func(log map[string]any) { logResult(log, 0)["level"] = "fatal" },
			"no message":       func(log map[string]any) { delete(logResult(log, 0), "message") },
			"unknown property": func(log map[string]any) { logResult(log, 0)["severity"] = "high" },
			"startLine 0":      func(log map[string]any) { logRegion(log, 0, 0)["startLine"] = 0 },
			"uri backslash":    func(log map[string]any) { logArtifact(log, 0, 0)["uri"] = `src\x.go` },
			"version 2.0.0":    func(log map[string]any) { log["version"] = "2.0.0" },
			"no driver name": func(log map[string]any) {
				delete(logRun(log)["tool"].(map[string]any)["driver"].(map[string]any), "name")
			},
			"bad columnKind":    func(log map[string]any) { logRun(log)["columnKind"] = "bytes" },
			"fingerprint value": func(log map[string]any) { logResult(log, 0)["partialFingerprints"] = map[string]any{"x": 1} },
		} {
			log := deepCopyJSON(t, base).(map[string]any)
			mutate(log)
			if err := sch.Validate(log); err == nil {
				t.Errorf("%s: the schema accepted an invalid log", name)
			}
		}
	})

	for _, tc := range []struct {
		name string
		rep  *Report
	}{
		{"findings", sarifTestReport()},
		{"no findings", &Report{Tool: Tool{Name: "leakguard", Version: "1.2.3"}, Scan: Summary{Source: ".", Complete: true}}},
		{"no findings, no version", &Report{Tool: Tool{Name: "leakguard"}, Findings: []finding.Finding{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, doc := writeSARIFDoc(t, tc.rep)
			if err := sch.Validate(doc); err != nil {
				t.Fatalf("SARIF output does not conform to the SARIF 2.1.0 schema:\n%#v\noutput:\n%s", err, raw)
			}
			checkGitHubCodeScanning(t, tc.rep, raw)
		})
	}
}

// checkGitHubCodeScanning checks what GitHub code scanning needs of an
// upload beyond the schema.
func checkGitHubCodeScanning(t *testing.T, rep *Report, raw []byte) {
	t.Helper()
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
				RuleID    string `json:"ruleId"`
				RuleIndex *int   `json:"ruleIndex"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("want version 2.1.0 and one run, got version %q and %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name == "" {
		t.Error("tool.driver.name is empty")
	}
	if len(run.Results) != len(rep.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(rep.Findings))
	}
	for i, res := range run.Results {
		f := rep.Findings[i]
		if res.RuleID == "" {
			t.Errorf("result %d: no ruleId", i)
		}
		if res.RuleIndex == nil {
			t.Errorf("result %d: no ruleIndex", i)
		} else if *res.RuleIndex < 0 || *res.RuleIndex >= len(run.Tool.Driver.Rules) {
			t.Errorf("result %d: ruleIndex %d does not index tool.driver.rules (%d rules)", i, *res.RuleIndex, len(run.Tool.Driver.Rules))
		} else if id := run.Tool.Driver.Rules[*res.RuleIndex].ID; id != res.RuleID {
			t.Errorf("result %d: ruleIndex %d names rule %q, ruleId is %q", i, *res.RuleIndex, id, res.RuleID)
		}
		if strings.TrimSpace(res.Message.Text) == "" {
			t.Errorf("result %d: no message.text", i)
		}
		if len(res.Locations) == 0 {
			t.Errorf("result %d: no locations", i)
		}
		if len(res.Locations) != len(f.Locations) {
			t.Errorf("result %d: %d locations for %d", i, len(res.Locations), len(f.Locations))
		}
		for j, l := range res.Locations {
			if j >= len(f.Locations) {
				break
			}
			uri, p := l.PhysicalLocation.ArtifactLocation.URI, f.Locations[j].Path
			if uri == "" {
				t.Errorf("result %d location %d: no artifactLocation.uri", i, j)
				continue
			}
			if !path.IsAbs(p) && strings.HasPrefix(uri, "/") {
				t.Errorf("result %d location %d: uri %q for relative path %q is absolute", i, j, uri, p)
			}
			// The schema's "uri-reference" check is lenient (it takes
			// what net/url parses): hold the URI to RFC 3986.
			if !rfc3986Chars(uri) {
				t.Errorf("result %d location %d: uri %q has characters RFC 3986 does not allow", i, j, uri)
			}
			if u, err := url.Parse(uri); err != nil || u.Scheme != "" || u.Host != "" {
				t.Errorf("result %d location %d: uri %q is not a relative reference", i, j, uri)
			}
			if got, err := url.PathUnescape(uri); err != nil || got != path.Clean(p) {
				t.Errorf("result %d location %d: uri %q decodes to %q, want %q", i, j, uri, got, path.Clean(p))
			}
			if l.PhysicalLocation.Region.StartLine < 1 {
				t.Errorf("result %d location %d: region.startLine %d", i, j, l.PhysicalLocation.Region.StartLine)
			}
		}
		if len(res.PartialFingerprints) == 0 {
			t.Errorf("result %d: no partialFingerprints", i)
		}
		for k, v := range res.PartialFingerprints {
			if k == "" || v == "" {
				t.Errorf("result %d: partialFingerprints has an empty key or value: %q: %q", i, k, v)
			}
		}
	}
}

// rfc3986Chars reports whether s has only characters a URI may have:
// unreserved, reserved, and well-formed percent-encodings.
func rfc3986Chars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func logRun(log map[string]any) map[string]any {
	return log["runs"].([]any)[0].(map[string]any)
}

func logResult(log map[string]any, i int) map[string]any {
	return logRun(log)["results"].([]any)[i].(map[string]any)
}

func logPhysical(log map[string]any, i, j int) map[string]any {
	loc := logResult(log, i)["locations"].([]any)[j].(map[string]any)
	return loc["physicalLocation"].(map[string]any)
}

func logRegion(log map[string]any, i, j int) map[string]any {
	return logPhysical(log, i, j)["region"].(map[string]any)
}

func logArtifact(log map[string]any, i, j int) map[string]any {
	return logPhysical(log, i, j)["artifactLocation"].(map[string]any)
}

func deepCopyJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSARIFURI(t *testing.T) {
	for in, want := range map[string]string{
		"./config/prod.env":  "config/prod.env",
		"notes:2024.txt":     "./notes:2024.txt",
		"dir/a:b.txt":        "dir/a:b.txt",
		"src/my dir/café.go": "src/my%20dir/caf%C3%A9.go",
		"/abs/path.go":       "/abs/path.go",
	} {
		if got := sarifURI(in); got != want {
			t.Errorf("sarifURI(%q) = %q, want %q", in, got, want)
		}
	}
}
