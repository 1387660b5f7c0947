package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Label is one planted credential.
type Label struct {
	File string `json:"file"`
	// Line is the 1-based line where the (encoded) text starts; EndLine,
	// for text spanning lines (PEM blocks), where it ends.
	Line    int    `json:"line"`
	EndLine int    `json:"end_line,omitempty"`
	Family  string `json:"family"`
	Secret  string `json:"secret"`
	// Encoding is how the secret is written: "" (verbatim), "base64",
	// "percent" or "escape" (string escapes such as \n and \/).
	Encoding string `json:"encoding"`
	// Encoded is the secret as written in the file, when Encoding is set.
	Encoded string `json:"encoded,omitempty"`
	// Identifier is a non-secret value naming the credential, written
	// next to it (an AWS access key ID, a GCP private_key_id).
	Identifier string `json:"identifier,omitempty"`
	// IdentifierEncoded is the identifier as written, when encoded.
	IdentifierEncoded string `json:"identifier_encoded,omitempty"`
}

// Decoy is text that looks like a credential and is not one.
type Decoy struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	EndLine int    `json:"end_line,omitempty"`
	Kind    string `json:"kind"`
	Text    string `json:"text"`
}

func (l Label) last() int   { return max(l.Line, l.EndLine) }
func (d Decoy) last() int   { return max(d.Line, d.EndLine) }
func lineSpan(s string) int { return strings.Count(strings.TrimSuffix(s, "\n"), "\n") }

type item struct {
	text  string
	label *Label
	decoy *Decoy
}

// corpus collects files whose content holds markers (\x00N\x00) standing
// for planted or decoy text; resolving a marker yields its line number.
type corpus struct {
	*gen
	deal   *dealer
	self   *dealer
	files  map[string][]byte
	items  []item
	labels []Label
	decoys []Decoy
}

func newCorpus(seed int64) *corpus {
	g := newGen(seed)
	return &corpus{gen: g, deal: &dealer{g: g}, self: &dealer{g: g, self: true}, files: map[string][]byte{}}
}

func (c *corpus) mark(it item) string {
	c.items = append(c.items, it)
	return "\x00" + strconv.Itoa(len(c.items)-1) + "\x00"
}

// plant writes text (the value as it goes into the file) and labels it.
func (c *corpus) plant(l Label, text string) string {
	if l.Family == "" {
		l.Family = pemFamily(l.Secret)
	}
	return c.mark(item{text: text, label: &l})
}

// pemFamily names a private key's family after its PEM type.
func pemFamily(block string) string {
	switch {
	case strings.HasPrefix(block, "-----BEGIN RSA PRIVATE KEY-----"):
		return "private-key-rsa"
	case strings.HasPrefix(block, "-----BEGIN EC PRIVATE KEY-----"):
		return "private-key-ec"
	case strings.HasPrefix(block, "-----BEGIN OPENSSH PRIVATE KEY-----"):
		return "private-key-openssh"
	case strings.HasPrefix(block, "-----BEGIN PRIVATE KEY-----"):
		return "private-key-pkcs8"
	}
	panic("no family for " + block[:min(len(block), 40)])
}

// make generates a credential of the named family.
func (c *corpus) make(family string) cred {
	for _, f := range families {
		if f.name == family {
			return f.make(c.gen)
		}
	}
	panic("unknown family " + family)
}

// put writes cr verbatim (its URL password possibly percent-encoded).
func (c *corpus) put(cr cred) string {
	return c.plant(Label{Family: cr.family, Secret: cr.secret, Identifier: cr.id, Encoding: cr.encoding, Encoded: cr.encoded}, cr.text)
}

// put64 writes cr's text base64-encoded.
func (c *corpus) put64(cr cred) string {
	enc := base64.StdEncoding.EncodeToString([]byte(cr.text))
	return c.plant(Label{Family: cr.family, Secret: cr.secret, Identifier: cr.id, Encoding: "base64", Encoded: enc}, enc)
}

// putPEM writes a PEM block; indent prefixes every line after the first
// (YAML block scalars, heredocs).
func (c *corpus) putPEM(family, block, indent string) string {
	text := strings.TrimSuffix(block, "\n")
	text = strings.ReplaceAll(text, "\n", "\n"+indent)
	return c.plant(Label{Family: family, Secret: strings.TrimSuffix(block, "\n")}, text)
}

// putEscaped writes text with newlines as \n (and optionally / as \/), as
// a JSON or source-code string literal carries it.
func (c *corpus) putEscaped(l Label, text string, slashes bool) string {
	enc := strings.ReplaceAll(text, "\n", `\n`)
	if slashes {
		enc = strings.ReplaceAll(enc, "/", `\/`)
	}
	l.Encoding, l.Encoded = "escape", enc
	return c.plant(l, enc)
}

func (c *corpus) decoy(kind, text string) string {
	return c.mark(item{text: text, decoy: &Decoy{Kind: kind, Text: strings.TrimSuffix(text, "\n")}})
}

// file records a file; content may hold markers.
func (c *corpus) file(name, content string) {
	if _, dup := c.files[name]; dup {
		panic("duplicate corpus file " + name)
	}
	var out strings.Builder
	line := 1
	for {
		i := strings.IndexByte(content, 0)
		if i < 0 {
			break
		}
		j := strings.IndexByte(content[i+1:], 0) + i + 1
		n, err := strconv.Atoi(content[i+1 : j])
		if err != nil {
			panic(err)
		}
		line += strings.Count(content[:i], "\n")
		out.WriteString(content[:i])
		it := c.items[n]
		span := lineSpan(it.text)
		switch {
		case it.label != nil:
			l := *it.label
			l.File, l.Line = name, line
			if span > 0 {
				l.EndLine = line + span
			}
			c.labels = append(c.labels, l)
		case it.decoy != nil:
			d := *it.decoy
			d.File, d.Line = name, line
			if span > 0 {
				d.EndLine = line + span
			}
			c.decoys = append(c.decoys, d)
		}
		out.WriteString(it.text)
		line += strings.Count(it.text, "\n")
		content = content[j+1:]
	}
	out.WriteString(content)
	c.files[name] = []byte(out.String())
}

// background copies clean Go source (no tests, no test data, no embedded
// private keys) from the standard library as files with nothing to find.
func (c *corpus) background(g *gen, goroot string, n int) error {
	var cand []string
	for _, dir := range []string{"net/http", "crypto"} {
		root := filepath.Join(goroot, "src", filepath.FromSlash(dir))
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				cand = append(cand, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("background: %w", err)
		}
	}
	sort.Strings(cand)
	g.r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	added := 0
	for _, p := range cand {
		if added == n {
			break
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			continue
		}
		rel, _ := filepath.Rel(filepath.Join(goroot, "src"), p)
		c.files[path.Join("src", filepath.ToSlash(rel))] = b
		added++
	}
	if added < n {
		return fmt.Errorf("background: only %d clean files under %s", added, goroot)
	}
	return nil
}

func (c *corpus) write(dir string) error {
	names := make([]string, 0, len(c.files))
	for name := range c.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, c.files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeMeta writes labels.json and decoys.json into dir.
func (c *corpus) writeMeta(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sort.SliceStable(c.labels, func(i, j int) bool {
		a, b := c.labels[i], c.labels[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	sort.SliceStable(c.decoys, func(i, j int) bool {
		a, b := c.decoys[i], c.decoys[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	if err := writeJSON(filepath.Join(dir, "labels.json"), c.labels); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "decoys.json"), c.decoys)
}

func writeJSON(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(b, '\n'), 0o644)
}

// check verifies that every label and decoy points at its text.
func (c *corpus) check() error {
	lines := map[string][]string{}
	get := func(f string) []string {
		if ls, ok := lines[f]; ok {
			return ls
		}
		ls := strings.Split(string(c.files[f]), "\n")
		lines[f] = ls
		return ls
	}
	at := func(f string, line int, text string) error {
		ls := get(f)
		first, _, _ := strings.Cut(text, "\n")
		if line < 1 || line > len(ls) || !strings.Contains(ls[line-1], first) {
			return fmt.Errorf("%s:%d does not hold %.40q", f, line, first)
		}
		return nil
	}
	for _, l := range c.labels {
		want := l.Secret
		if l.Encoded != "" {
			want = l.Encoded
		}
		if err := at(l.File, l.Line, want); err != nil {
			return fmt.Errorf("label %s: %w", l.Family, err)
		}
	}
	for _, d := range c.decoys {
		if err := at(d.File, d.Line, d.Text); err != nil {
			return fmt.Errorf("decoy %s: %w", d.Kind, err)
		}
	}
	return nil
}
