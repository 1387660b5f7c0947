package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The scoring rules are documented at the top of bench/accuracy.sh.

// occ is one place a tool reported a secret.
type occ struct {
	file      string
	line, end int
	secret    string
	rule      string
}

type tool struct {
	name   string
	report string
	load   func(report, root string) (occs []occ, entries int, err error)
}

// relPath makes a reported path relative to the scanned corpus root.
func relPath(root, p string) string {
	p = filepath.ToSlash(p)
	for _, r := range []string{root, absOr(root)} {
		r = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(r)), "/") + "/"
		if strings.HasPrefix(p, r) {
			return p[len(r):]
		}
	}
	return strings.TrimPrefix(p, "./")
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func loadLeakGuard(report, root string) ([]occ, int, error) {
	var r struct {
		Findings []struct {
			RuleID    string `json:"rule_id"`
			Secret    string `json:"secret"`
			Locations []struct {
				Path string `json:"path"`
				Line int    `json:"line"`
			} `json:"locations"`
		} `json:"findings"`
	}
	if err := readJSON(report, &r); err != nil {
		return nil, 0, err
	}
	var occs []occ
	for _, f := range r.Findings {
		for _, l := range f.Locations {
			occs = append(occs, occ{file: relPath(root, l.Path), line: l.Line, end: l.Line, secret: f.Secret, rule: f.RuleID})
		}
	}
	return occs, len(r.Findings), nil
}

func loadGitleaks(report, root string) ([]occ, int, error) {
	var r []struct {
		RuleID    string
		File      string
		StartLine int
		EndLine   int
		Secret    string
	}
	if err := readJSON(report, &r); err != nil {
		return nil, 0, err
	}
	occs := make([]occ, 0, len(r))
	for _, f := range r {
		occs = append(occs, occ{file: relPath(root, f.File), line: f.StartLine, end: max(f.StartLine, f.EndLine), secret: f.Secret, rule: f.RuleID})
	}
	return occs, len(r), nil
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// norm undoes string escapes and drops whitespace, so that a PEM block
// compares equal however it was cut, indented or escaped.
var unescape = strings.NewReplacer(`\r\n`, "", `\n`, "", `\r`, "", `\t`, "", `\/`, "/", `\"`, `"`, `\\`, `\`)

func norm(s string) string {
	s = unescape.Replace(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

const minOverlap = 8

// same is the secret test: equal, or one contains the other with at
// least minOverlap characters in common.
func same(a, b string) bool {
	switch {
	case a == "" || b == "":
		return false
	case a == b:
		return true
	case len(a) >= minOverlap && strings.Contains(b, a):
		return true
	case len(b) >= minOverlap && strings.Contains(a, b):
		return true
	}
	return false
}

const lineSlack = 2

type nlabel struct {
	Label
	keys []string // normalized secret, identifier, encoded text
}

func (l nlabel) matches(o occ, forms []string) bool {
	if o.end < l.Line-lineSlack || o.line > l.last()+lineSlack {
		return false
	}
	for _, k := range l.keys {
		for _, s := range forms {
			if same(s, k) {
				return true
			}
		}
	}
	return false
}

// forms are the ways a reported secret is compared: normalised; if it
// holds percent-escapes, unescaped; and, if it is itself base64 of text,
// that text (a tool that reports a layer of encoding it did not undo).
func forms(secret string) []string {
	s := norm(secret)
	out := []string{s}
	if strings.Contains(s, "%") {
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
	}
	if len(s) < 12 {
		return out
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil || !utf8.Valid(b) {
			continue
		}
		printable := 0
		for _, r := range string(b) {
			if unicode.IsPrint(r) || unicode.IsSpace(r) {
				printable++
			}
		}
		if printable*10 >= utf8.RuneCount(b)*9 {
			return append(out, norm(string(b)))
		}
	}
	return out
}

// unit is one distinct (file, secret) a tool reported.
type unit struct {
	file, secret string
	occs         []occ
	labels       []int
	decoy        string
}

type result struct {
	tool     string
	err      error
	entries  int
	occs     int
	units    []*unit
	found    []bool
	tp, fp   int
	decoys   map[string]int
	bg, misc int
}

func score(t tool, root string, labels []nlabel, byFile map[string][]int, decoys []Decoy) result {
	res := result{tool: t.name, found: make([]bool, len(labels)), decoys: map[string]int{}}
	if t.report == "" {
		res.err = fmt.Errorf("no report")
		return res
	}
	occs, entries, err := t.load(t.report, root)
	if err != nil {
		res.err = err
		return res
	}
	res.entries, res.occs = entries, len(occs)
	decoysByFile := map[string][]Decoy{}
	for _, d := range decoys {
		decoysByFile[d.File] = append(decoysByFile[d.File], d)
	}
	index := map[[2]string]*unit{}
	for _, o := range occs {
		fs := forms(o.secret)
		s := fs[0]
		k := [2]string{o.file, s}
		u := index[k]
		if u == nil {
			u = &unit{file: o.file, secret: s}
			index[k] = u
			res.units = append(res.units, u)
		}
		u.occs = append(u.occs, o)
		for _, i := range byFile[o.file] {
			if labels[i].matches(o, fs) {
				u.labels = append(u.labels, i)
				res.found[i] = true
			}
		}
	}
	for _, u := range res.units {
		if len(u.labels) > 0 {
			res.tp++
			continue
		}
		res.fp++
		for _, o := range u.occs {
			for _, d := range decoysByFile[u.file] {
				if o.end >= d.Line && o.line <= d.last() && u.decoy == "" {
					u.decoy = d.Kind
				}
			}
		}
		switch {
		case u.decoy != "":
			res.decoys[u.decoy]++
		case strings.HasPrefix(u.file, "src/"):
			res.bg++
		default:
			res.misc++
		}
	}
	return res
}

func runScore(w io.Writer, root, meta string, tools []tool, verbose bool) error {
	var raw []Label
	if err := readJSON(filepath.Join(meta, "labels.json"), &raw); err != nil {
		return err
	}
	var decoys []Decoy
	if err := readJSON(filepath.Join(meta, "decoys.json"), &decoys); err != nil {
		return err
	}
	labels := make([]nlabel, len(raw))
	byFile := map[string][]int{}
	for i, l := range raw {
		labels[i] = nlabel{Label: l}
		for _, k := range []string{l.Secret, l.Identifier, l.Encoded, l.IdentifierEncoded} {
			if k != "" {
				labels[i].keys = append(labels[i].keys, norm(k))
			}
		}
		byFile[l.File] = append(byFile[l.File], i)
	}
	var results []result
	for _, t := range tools {
		results = append(results, score(t, root, labels, byFile, decoys))
	}
	report(w, labels, decoys, results, verbose)
	return nil
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func report(w io.Writer, labels []nlabel, decoys []Decoy, rs []result, verbose bool) {
	row := func(name string, f func(r result) string) {
		fmt.Fprintf(w, "%-34s", name)
		for _, r := range rs {
			v := "n/a"
			if r.err == nil {
				v = f(r)
			}
			fmt.Fprintf(w, " %14s", v)
		}
		fmt.Fprintln(w)
	}
	count := func(r result) int {
		n := 0
		for _, f := range r.found {
			if f {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(w, "%-34s", "")
	for _, r := range rs {
		fmt.Fprintf(w, " %14s", r.tool)
	}
	fmt.Fprintln(w)
	row("planted credentials", func(r result) string { return fmt.Sprint(len(labels)) })
	row("found", func(r result) string { return fmt.Sprint(count(r)) })
	row("recall", func(r result) string { return pct(count(r), len(labels)) })
	row("report entries", func(r result) string { return fmt.Sprint(r.entries) })
	row("findings (distinct file+secret)", func(r result) string { return fmt.Sprint(len(r.units)) })
	row("  true positives", func(r result) string { return fmt.Sprint(r.tp) })
	row("  false positives", func(r result) string { return fmt.Sprint(r.fp) })
	row("precision", func(r result) string { return pct(r.tp, r.tp+r.fp) })
	row("false positives on decoys", func(r result) string { return fmt.Sprint(r.fp - r.bg - r.misc) })
	kinds := map[string]int{}
	for _, d := range decoys {
		kinds[d.Kind]++
	}
	for _, k := range sortedKeys(kinds) {
		row(fmt.Sprintf("  %s (%d)", k, kinds[k]), func(r result) string { return fmt.Sprint(r.decoys[k]) })
	}
	row("false positives in src/ background", func(r result) string { return fmt.Sprint(r.bg) })
	row("false positives elsewhere", func(r result) string { return fmt.Sprint(r.misc) })
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(w, "%s: %v\n", r.tool, r.err)
		}
	}

	// per family: found/planted
	fams := map[string][]int{}
	for i, l := range labels {
		fams[l.Family] = append(fams[l.Family], i)
	}
	fmt.Fprintf(w, "\nrecall by family (found/planted)")
	fmt.Fprintf(w, "\n%-34s", "family")
	for _, r := range rs {
		fmt.Fprintf(w, " %14s", r.tool)
	}
	fmt.Fprintln(w)
	for _, f := range sortedKeys(fams) {
		fmt.Fprintf(w, "%-34s", f)
		for _, r := range rs {
			v := "n/a"
			if r.err == nil {
				n := 0
				for _, i := range fams[f] {
					if r.found[i] {
						n++
					}
				}
				v = fmt.Sprintf("%d/%d", n, len(fams[f]))
				if n < len(fams[f]) {
					v = "*" + v
				}
			}
			fmt.Fprintf(w, " %14s", v)
		}
		fmt.Fprintln(w)
	}
	encs := map[string][]int{}
	for i, l := range labels {
		e := l.Encoding
		if e == "" {
			e = "verbatim"
		}
		encs[e] = append(encs[e], i)
	}
	fmt.Fprintf(w, "\nrecall by encoding\n")
	for _, e := range sortedKeys(encs) {
		fmt.Fprintf(w, "%-34s", e)
		for _, r := range rs {
			v := "n/a"
			if r.err == nil {
				n := 0
				for _, i := range encs[e] {
					if r.found[i] {
						n++
					}
				}
				v = fmt.Sprintf("%d/%d", n, len(encs[e]))
			}
			fmt.Fprintf(w, " %14s", v)
		}
		fmt.Fprintln(w)
	}

	// false positives by rule
	for _, r := range rs {
		if r.err != nil || r.fp == 0 {
			continue
		}
		byRule := map[string]int{}
		for _, u := range r.units {
			if len(u.labels) == 0 {
				byRule[u.occs[0].rule]++
			}
		}
		keys := sortedKeys(byRule)
		sort.SliceStable(keys, func(i, j int) bool { return byRule[keys[i]] > byRule[keys[j]] })
		fmt.Fprintf(w, "\n%s false positives by rule:", r.tool)
		for _, k := range keys {
			fmt.Fprintf(w, " %s=%d", k, byRule[k])
		}
		fmt.Fprintln(w)
	}

	if !verbose {
		return
	}
	for _, r := range rs {
		if r.err != nil {
			continue
		}
		fmt.Fprintf(w, "\n== %s: misses\n", r.tool)
		for i, l := range labels {
			if !r.found[i] {
				fmt.Fprintf(w, "MISS %s:%d %s %s %.60q\n", l.File, l.Line, l.Family, l.Encoding, l.Secret)
			}
		}
		fmt.Fprintf(w, "\n== %s: false positives\n", r.tool)
		for _, u := range r.units {
			if len(u.labels) == 0 {
				o := u.occs[0]
				fmt.Fprintf(w, "FP %s:%d %s decoy=%s %.60q\n", u.file, o.line, o.rule, u.decoy, o.secret)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
