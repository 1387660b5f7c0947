// Package detect is LeakGuard's detection engine. It finds credentials in
// byte buffers: one Aho-Corasick pass finds rule keywords, each rule's
// pattern runs only in windows around its keyword hits, candidates pass
// validators and false-positive filters, and encoded text (base64,
// percent-encoding, string escapes) is decoded and scanned again.
//
// The engine does no I/O and keeps no state between calls: an Engine is
// safe for concurrent use.
package detect

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/leakguard/leakguard/internal/rules"
)

// AllowMarker on a line suppresses findings on that line.
const AllowMarker = "leakguard:allow"

// Match is one candidate that passed every check.
type Match struct {
	RuleID     string
	Secret     string
	Identifier string // the paired value's partner (an AWS key ID), if any
	Confidence rules.Confidence
	// Start and End are byte offsets in the scanned buffer. For a secret
	// found in decoded text they span the encoded text.
	Start, End int
	// Decoded is the decoding path, outermost first ("base64", "percent",
	// "escape"); empty for a secret found as is.
	Decoded []string
	Attrs   map[string]string
}

func (m *Match) setAttr(k, v string) {
	if m.Attrs == nil {
		m.Attrs = make(map[string]string, 2)
	}
	m.Attrs[k] = v
}

type compiled struct {
	rules.Rule
	re       *regexp.Regexp
	group    int
	allow    []*regexp.Regexp
	validate validator
	pair     *compiledPair
	path     *regexp.Regexp   // nil: every path
	skip     []*regexp.Regexp // paths where the rule does not run
}

// runsOn reports whether the rule applies to a path ("" when unknown).
func (c *compiled) runsOn(p string) bool {
	if c.path != nil && !c.path.MatchString(p) {
		return false
	}
	for _, s := range c.skip {
		if s.MatchString(p) {
			return false
		}
	}
	return true
}

type compiledPair struct {
	re      *regexp.Regexp
	group   int
	entropy float64
	within  int
}

// Options tune an Engine.
type Options struct {
	// MaxDecodeDepth bounds nested decoding (base64 inside base64); 0
	// disables decoding.
	MaxDecodeDepth int
	// Stopwords: a secret containing one of these (case-insensitively) is
	// not reported.
	Stopwords []string
	// AllowRegexes: a secret matching one of these is not reported.
	AllowRegexes []*regexp.Regexp
}

// DefaultOptions are the options used by the CLI unless configured.
func DefaultOptions() Options { return Options{MaxDecodeDepth: 2} }

// Engine runs a compiled rule set. Create it with New.
type Engine struct {
	rules   []*compiled
	kw      *keywordMatcher
	kwRules [][]int // keyword index -> rule indices
	always  []int   // rules without keywords: they run over everything
	paths   bool    // some rule depends on the path
	generic map[string]bool
	// pathOnly rules report files by path (keystores), not content.
	pathOnly []*compiled
	opts     Options
	maxWin   int
}

// New compiles rules into an Engine.
func New(rs []rules.Rule, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, generic: map[string]bool{}}
	kwIndex := map[string]int{}
	var keywords []string
	for i := range rs {
		r := rs[i]
		if err := r.Check(); err != nil {
			return nil, err
		}
		c := &compiled{Rule: r, re: regexp.MustCompile(r.Regex)}
		c.group = r.SecretGroup
		if c.group == 0 && c.re.NumSubexp() > 0 {
			c.group = 1
		}
		for _, a := range r.Allow {
			c.allow = append(c.allow, regexp.MustCompile(a))
		}
		v, err := lookupValidator(r.Validator)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		c.validate = v
		if p := r.Pair; p != nil {
			cp := &compiledPair{re: regexp.MustCompile(p.Regex), group: p.SecretGroup, entropy: p.Entropy, within: p.Within}
			if cp.group == 0 && cp.re.NumSubexp() > 0 {
				cp.group = 1
			}
			c.pair = cp
		}
		if r.Path != "" {
			c.path = regexp.MustCompile(r.Path)
		}
		for _, p := range r.SkipPaths {
			c.skip = append(c.skip, regexp.MustCompile(p))
		}
		e.paths = e.paths || c.path != nil || len(c.skip) > 0
		if r.Window > e.maxWin {
			e.maxWin = r.Window
		}
		if r.Regex == "" {
			// Path-only: matched against paths by PathOnly, never content.
			e.pathOnly = append(e.pathOnly, c)
			continue
		}
		ri := len(e.rules)
		e.rules = append(e.rules, c)
		if r.Generic {
			e.generic[r.ID] = true
		}
		if len(r.Keywords) == 0 {
			e.always = append(e.always, ri)
		}
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			ki, ok := kwIndex[k]
			if !ok {
				ki = len(keywords)
				kwIndex[k] = ki
				keywords = append(keywords, k)
				e.kwRules = append(e.kwRules, nil)
			}
			if !slices.Contains(e.kwRules[ki], ri) {
				e.kwRules[ki] = append(e.kwRules[ki], ri)
			}
		}
	}
	e.kw = newKeywordMatcher(keywords)
	return e, nil
}

// Rules returns the rules the engine runs, in order, path-only rules last.
func (e *Engine) Rules() []rules.Rule {
	out := make([]rules.Rule, 0, len(e.rules)+len(e.pathOnly))
	for _, c := range append(slices.Clone(e.rules), e.pathOnly...) {
		out = append(out, c.Rule)
	}
	return out
}

// PathOnly returns the path-only rules that report a file at path.
func (e *Engine) PathOnly(path string) []rules.Rule {
	var out []rules.Rule
	for _, c := range e.pathOnly {
		if c.runsOn(path) {
			out = append(out, c.Rule)
		}
	}
	return out
}

// Overlap is how many bytes a caller that scans a stream in chunks must
// repeat between consecutive chunks so that no match is cut in two.
func (e *Engine) Overlap() int { return 2*e.maxWin + 1024 }

// Target describes what is being scanned.
type Target struct {
	// Path, when known, turns off the generic tier in lock files.
	Path string
	// Partial marks a chunk that does not start at the beginning of its
	// input: the window logic then never treats offset 0 as a token start.
	Partial bool
}

// lockFiles hold dependency hashes, never passwords: the generic tier
// does not run there (provider rules still do).
var lockFiles = map[string]bool{
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true, "pnpm-lock.yaml": true,
	"go.sum": true, "Cargo.lock": true, "Gemfile.lock": true, "poetry.lock": true, "Pipfile.lock": true,
	"composer.lock": true, "packages.lock.json": true, "pubspec.lock": true, "mix.lock": true,
	"flake.lock": true, "uv.lock": true, "bun.lock": true, "gradle.lockfile": true, "Podfile.lock": true,
}

type window struct {
	rule   int
	lo, hi int
}

// Scan returns the matches in buf, ordered by Start.
func (e *Engine) Scan(buf []byte, t Target) []Match {
	sc := scanCtx{skipGeneric: t.Path != "" && lockFiles[path.Base(t.Path)]}
	if e.paths {
		sc.off = make([]bool, len(e.rules))
		for i, r := range e.rules {
			sc.off[i] = !r.runsOn(t.Path)
		}
	}
	ms := dropShadowedGeneric(buf, e.scan(buf, &sc, t.Partial, 0, nil), e)
	slices.SortStableFunc(ms, func(a, b Match) int { return a.Start - b.Start })
	return ms
}

// dropShadowedGeneric removes generic-tier matches that overlap a
// provider match or share its line: the provider rule already names that
// credential (a connection string's other fields are not passwords).
func dropShadowedGeneric(buf []byte, ms []Match, e *Engine) []Match {
	var provider []Match
	for _, m := range ms {
		if !e.generic[m.RuleID] {
			provider = append(provider, m)
		}
	}
	if len(provider) == len(ms) || len(provider) == 0 {
		return ms
	}
	// lineOf identifies a match's line by the offset of its start, looking
	// back a bounded distance (on a longer line, matches are only compared
	// by overlap).
	lineOf := func(off int) int {
		off = min(off, len(buf))
		lo := max(0, off-1024)
		if i := bytes.LastIndexByte(buf[lo:off], '\n'); i >= 0 || lo == 0 {
			return lo + i
		}
		return -2 - off
	}
	providerLines := make(map[int]bool, len(provider))
	for _, p := range provider {
		providerLines[lineOf(p.Start)] = true
	}
	slices.SortFunc(provider, func(a, b Match) int { return a.Start - b.Start })
	return slices.DeleteFunc(ms, func(m Match) bool {
		if !e.generic[m.RuleID] {
			return false
		}
		if providerLines[lineOf(m.Start)] {
			return true
		}
		// Overlap: the provider matches starting before m ends, nearest
		// first (matches are short, so a few suffice).
		i, _ := slices.BinarySearchFunc(provider, m.End, func(p Match, end int) int { return p.Start - end })
		for k := i - 1; k >= 0 && k >= i-8; k-- {
			if provider[k].End > m.Start {
				return true
			}
		}
		return false
	})
}

// scan finds matches in buf; depth counts decoding levels; ctx, for
// decoded text, marks the context prefix whose matches are not new.
func (e *Engine) scan(buf []byte, sc *scanCtx, partial bool, depth int, ctx *decodeCtx) []Match {
	var wins []window
	e.kw.scan(buf, func(kw, end int) {
		start := end - len(e.kw.keywords[kw])
		for _, ri := range e.kwRules[kw] {
			if sc.skip(e.rules[ri]) || sc.off != nil && sc.off[ri] {
				continue
			}
			lo, hi := windowAround(buf, start, end, e.rules[ri].Window, partial)
			wins = append(wins, window{ri, lo, hi})
		}
	})
	for _, ri := range e.always {
		if !sc.skip(e.rules[ri]) && (sc.off == nil || !sc.off[ri]) {
			wins = append(wins, window{ri, 0, len(buf)})
		}
	}
	var out []Match
	if len(wins) > 0 {
		slices.SortStableFunc(wins, func(a, b window) int { return a.rule - b.rule })
		for i := 0; i < len(wins); {
			// Merge overlapping windows of one rule, then run its pattern.
			w := wins[i]
			j := i + 1
			for j < len(wins) && wins[j].rule == w.rule && wins[j].lo <= w.hi {
				w.hi = max(w.hi, wins[j].hi)
				j++
			}
			out = e.runRule(out, buf, w, ctx)
			i = j
		}
	}
	if depth < e.opts.MaxDecodeDepth {
		out = e.scanDecoded(out, buf, sc, depth)
	}
	return out
}

// scanCtx carries per-target rule selection through nested scans.
type scanCtx struct {
	skipGeneric bool
	off         []bool // rule index -> does not run on this path
}

func (sc *scanCtx) skip(r *compiled) bool { return sc.skipGeneric && r.Generic }

// tokenByte reports bytes that may continue a token; a window never starts
// or ends between two of them, so no pattern sees half a token.
func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '+' || c == '/' || c == '=' || c == '.'
}

const lineSlack = 256

// windowAround returns the span a pattern may search for a keyword hit at
// [start,end). Rules with the default window (512 bytes or less) look at
// the keyword's line only: from its start (at most w bytes back) to its
// end (at most w bytes on). Rules with a larger window (multi-line
// secrets: PEM blocks, JSON documents) reach w bytes back to a line start
// and w bytes forward, on to the end of that line (at most lineSlack more).
// A window cut mid-line never starts or ends inside a token.
func windowAround(buf []byte, start, end, w int, partial bool) (int, int) {
	lo := max(0, start-w)
	if i := bytes.LastIndexByte(buf[lo:start], '\n'); i >= 0 {
		lo += i + 1
	} else if lo > 0 || partial {
		// Mid-line: skip forward past any token we landed inside.
		for k := 0; lo < start && k < 128 && tokenByte(buf[lo]); k++ {
			lo++
		}
	}
	if w <= lineWindow {
		hi := min(len(buf), end+w)
		if i := bytes.IndexByte(buf[end:hi], '\n'); i >= 0 {
			return lo, end + i
		}
		return lo, snapBack(buf, hi, end)
	}
	hi := min(len(buf), end+w)
	if hi < len(buf) {
		limit := min(len(buf), hi+lineSlack)
		if i := bytes.IndexByte(buf[hi:limit], '\n'); i >= 0 {
			hi += i
		} else {
			hi = snapBack(buf, limit, end)
		}
	}
	return lo, hi
}

// lineWindow is the largest rule window that stays on the keyword's line.
const lineWindow = 512

// snapBack moves a window end that falls inside a token back before it.
func snapBack(buf []byte, hi, floor int) int {
	for k := 0; hi > floor && k < 128 && hi < len(buf) && tokenByte(buf[hi]); k++ {
		hi--
	}
	return hi
}

func (e *Engine) runRule(out []Match, buf []byte, w window, ctx *decodeCtx) []Match {
	r := e.rules[w.rule]
	text := buf[w.lo:w.hi]
	for _, loc := range r.re.FindAllSubmatchIndex(text, -1) {
		s, en := loc[2*r.group], loc[2*r.group+1]
		if s < 0 || s == en {
			continue
		}
		m := Match{RuleID: r.ID, Secret: string(text[s:en]), Confidence: r.Confidence, Start: w.lo + s, End: w.lo + en}
		if ctx != nil && m.Start < ctx.prefix {
			continue // inside the context prefix: reported from the raw text
		}
		if r.pair != nil {
			if !e.findPair(r, buf, &m) && r.Pair.Required {
				continue
			}
		}
		if !e.keep(r, buf, &m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// findPair searches around m for the rule's companion value and, when
// found, makes it the secret with m's value as identifier.
func (e *Engine) findPair(r *compiled, buf []byte, m *Match) bool {
	p := r.pair
	lo, hi := max(0, m.Start-p.within), min(len(buf), m.End+p.within)
	best, bestDist := "", -1
	bs, be := 0, 0
	for _, loc := range p.re.FindAllSubmatchIndex(buf[lo:hi], -1) {
		s, en := loc[2*p.group], loc[2*p.group+1]
		if s < 0 || s == en {
			continue
		}
		v := string(buf[lo+s : lo+en])
		if v == m.Secret || entropy(v) < p.entropy || isPlaceholder(v) || isHex(v) {
			continue
		}
		d := lo + s - m.End
		if d < 0 {
			d = m.Start - (lo + en)
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist, bs, be = v, d, lo+s, lo+en
		}
	}
	if bestDist < 0 {
		return false
	}
	m.Identifier, m.Secret = m.Secret, best
	m.Start, m.End = min(m.Start, bs), max(m.End, be)
	if m.Confidence < rules.High {
		m.Confidence = rules.High
	}
	m.setAttr("paired", "true")
	return true
}

// keep applies the filters and the validator.
func (e *Engine) keep(r *compiled, buf []byte, m *Match) bool {
	s := m.Secret
	if r.Pair == nil || m.Identifier == "" {
		if entropy(s) < entropyFloor(r.Entropy, len(s)) {
			return false
		}
	}
	if isPlaceholder(s) || (m.Identifier != "" && isPlaceholder(m.Identifier)) {
		return false
	}
	if r.Generic && rejectGeneric(s) {
		return false
	}
	for _, a := range r.allow {
		if a.MatchString(s) {
			return false
		}
	}
	for _, a := range e.opts.AllowRegexes {
		if a.MatchString(s) {
			return false
		}
	}
	if len(e.opts.Stopwords) > 0 {
		l := strings.ToLower(s)
		for _, w := range e.opts.Stopwords {
			if strings.Contains(l, strings.ToLower(w)) {
				return false
			}
		}
	}
	if r.validate != nil && !r.validate(m) {
		return false
	}
	return !lineAllowed(buf, m.Start)
}

// lineAllowed reports whether the line holding offset carries AllowMarker
// (looking at most 1 KiB either side on very long lines).
func lineAllowed(buf []byte, off int) bool {
	lo := max(0, off-1024)
	if i := bytes.LastIndexByte(buf[lo:off], '\n'); i >= 0 {
		lo += i + 1
	}
	hi := min(len(buf), off+1024)
	if i := bytes.IndexByte(buf[off:hi], '\n'); i >= 0 {
		hi = off + i
	}
	return bytes.Contains(buf[lo:hi], []byte(AllowMarker))
}
