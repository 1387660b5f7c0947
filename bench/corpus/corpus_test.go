package main

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func validChecksum(tok string) bool {
	i := strings.IndexByte(tok, '_')
	body := tok[i+1:]
	if len(body) != 36 {
		return false
	}
	return base62(crc32.ChecksumIEEE([]byte(body[:30]))) == body[30:]
}

func TestChecksums(t *testing.T) {
	if got := base62(0); got != "000000" {
		t.Errorf("base62(0) = %q", got)
	}
	if got := base62(61); got != "00000z" {
		t.Errorf("base62(61) = %q", got)
	}
	if got := base62(62); got != "000010" {
		t.Errorf("base62(62) = %q", got)
	}
	g := newGen(1)
	for range 100 {
		if tok := g.checksummed("ghp_"); !validChecksum(tok) || len(tok) != 40 {
			t.Fatalf("%s: bad token", tok)
		}
		if tok := g.badChecksum("npm_"); validChecksum(tok) {
			t.Fatalf("%s: checksum should be wrong", tok)
		}
	}
}

func TestAWSKeyID(t *testing.T) {
	g := newGen(2)
	for range 100 {
		id := g.awsKeyID("AKIA")
		if len(id) != 20 || !strings.ContainsRune("QRSTUVWXYZ234567", rune(id[4])) || strings.Trim(id, b32) != "" {
			t.Fatalf("bad key ID %s", id)
		}
	}
}

func generateTo(t *testing.T, seed int64) (string, *corpus) {
	dir := t.TempDir()
	c := newCorpus(seed)
	c.build()
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if err := c.write(dir); err != nil {
		t.Fatal(err)
	}
	if err := c.writeMeta(dir); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// TestGenerate: a seed names a corpus, every family is planted several
// times, and every label and decoy points at its text.
func TestGenerate(t *testing.T) {
	_, a := generateTo(t, 7)
	_, b := generateTo(t, 7)
	if !reflect.DeepEqual(a.files, b.files) || !reflect.DeepEqual(a.labels, b.labels) || !reflect.DeepEqual(a.decoys, b.decoys) {
		t.Fatal("same seed, different corpus")
	}
	counts := map[string]int{}
	for _, l := range a.labels {
		counts[l.Family]++
		if l.Secret == "" {
			t.Errorf("%s:%d: empty secret", l.File, l.Line)
		}
	}
	for _, f := range families {
		if counts[f.name] < 3 {
			t.Errorf("family %s planted %d times, want at least 3", f.name, counts[f.name])
		}
	}
	for _, fam := range []string{"aws-access-key", "aws-session-token", "gcp-service-account", "private-key-rsa", "private-key-ec", "private-key-openssh", "private-key-pkcs8"} {
		if counts[fam] < 3 {
			t.Errorf("family %s planted %d times, want at least 3", fam, counts[fam])
		}
	}
	encs := map[string]int{}
	for _, l := range a.labels {
		encs[l.Encoding]++
	}
	for _, e := range []string{"", "base64", "percent", "escape"} {
		if encs[e] < 5 {
			t.Errorf("encoding %q used %d times", e, encs[e])
		}
	}
	// an encoded label decodes to its secret
	for _, l := range a.labels {
		if l.Encoding == "percent" && l.Encoded != "" {
			if got := forms(l.Encoded); !strings.Contains(strings.Join(got, "\x00"), norm(l.Secret)) {
				t.Errorf("%s:%d: %q does not decode to %q", l.File, l.Line, l.Encoded, l.Secret)
			}
		}
	}
}

func TestScore(t *testing.T) {
	dir := t.TempDir()
	pemKey := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\ndefGHIjklMNO\n-----END EC PRIVATE KEY-----"
	labels := []Label{
		{File: "a/.env", Line: 3, Family: "github-pat", Secret: "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000000"},
		{File: "a/.env", Line: 5, EndLine: 8, Family: "private-key-ec", Secret: pemKey},
		{File: "a/sa.json", Line: 4, Family: "gcp-service-account", Secret: pemKey, Encoding: "escape", Encoded: strings.ReplaceAll(pemKey, "\n", `\n`)},
		{File: "a/creds", Line: 3, Family: "aws-access-key", Secret: "wJalrXUtnFEMIK7MDENGbPxRfiCYzzzzzzzzzzzz", Identifier: "AKIAQQQQQQQQQQQQQQQQ"},
		{File: "a/db", Line: 1, Family: "postgres-uri", Secret: "p@ss:word12345", Encoding: "percent", Encoded: "p%40ss%3Aword12345"},
	}
	decoys := []Decoy{{File: "a/test.js", Line: 2, Kind: "bad-checksum", Text: "ghp_bbbb"}}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(writeJSON(filepath.Join(dir, "labels.json"), labels))
	must(writeJSON(filepath.Join(dir, "decoys.json"), decoys))
	root := "/tmp/corpus"
	gl := []map[string]any{
		{"RuleID": "github-pat", "File": root + "/a/.env", "StartLine": 4, "EndLine": 4, "Secret": labels[0].Secret}, // within 2 lines
		{"RuleID": "github-pat", "File": root + "/a/.env", "StartLine": 9, "EndLine": 9, "Secret": labels[0].Secret}, // same (file, secret): one finding
		{"RuleID": "private-key", "File": root + "/a/.env", "StartLine": 5, "EndLine": 8, "Secret": "  " + strings.ReplaceAll(pemKey, "\n", "\n  ")},
		{"RuleID": "private-key", "File": root + "/a/sa.json", "StartLine": 4, "EndLine": 4, "Secret": strings.ReplaceAll(pemKey, "\n", `\n`)},
		{"RuleID": "aws", "File": root + "/a/creds", "StartLine": 2, "EndLine": 2, "Secret": "AKIAQQQQQQQQQQQQQQQQ"},      // identifier counts
		{"RuleID": "generic", "File": root + "/a/db", "StartLine": 1, "EndLine": 1, "Secret": "p%40ss%3Aword12345"},       // still encoded
		{"RuleID": "github-pat", "File": root + "/a/test.js", "StartLine": 2, "EndLine": 2, "Secret": "ghp_bbbbbbbbbbbb"}, // decoy
		{"RuleID": "generic", "File": root + "/src/x.go", "StartLine": 10, "EndLine": 10, "Secret": "encryptionKey"},      // background
		{"RuleID": "generic", "File": root + "/a/.env", "StartLine": 20, "EndLine": 20, "Secret": labels[0].Secret[:10]},  // too far away
	}
	b, _ := json.Marshal(gl)
	must(os.WriteFile(filepath.Join(dir, "gl.json"), b, 0o644))
	lg := map[string]any{"findings": []map[string]any{
		{"rule_id": "github-pat", "secret": labels[0].Secret, "locations": []map[string]any{{"path": root + "/a/.env", "line": 1}}},
		{"rule_id": "pg", "secret": "ss:word1", "locations": []map[string]any{{"path": root + "/a/db", "line": 1}}},           // 8 chars contained
		{"rule_id": "pg", "secret": "ss:word", "locations": []map[string]any{{"path": root + "/a/db", "line": 1}}},            // 7: too short
		{"rule_id": "aws", "secret": labels[3].Secret, "locations": []map[string]any{{"path": root + "/a/creds", "line": 6}}}, // 3 lines off
	}}
	b, _ = json.Marshal(lg)
	must(os.WriteFile(filepath.Join(dir, "lg.json"), b, 0o644))

	var out bytes.Buffer
	must(runScore(&out, root, dir, []tool{{"leakguard", filepath.Join(dir, "lg.json"), loadLeakGuard}, {"gitleaks", filepath.Join(dir, "gl.json"), loadGitleaks}}, true))
	text := out.String()
	for _, want := range [][3]string{
		{"found", "2", "5"},
		{"findings (distinct file+secret)", "4", "8"},
		{"  true positives", "2", "5"},
		{"  false positives", "2", "3"},
		{"  bad-checksum (1)", "0", "1"},
		{"false positives in src/ background", "0", "1"},
		{"false positives elsewhere", "2", "1"},
	} {
		got := [3]string{want[0], "?", "?"}
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, want[0]+" "); ok {
				if f := strings.Fields(rest); len(f) == 2 {
					got = [3]string{want[0], f[0], f[1]}
				}
			}
		}
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
