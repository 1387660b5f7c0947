package detect

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"
)

// decodeCtx marks decoded text that carries a copy of the line before the
// encoded text as context: matches inside that prefix are not new.
type decodeCtx struct{ prefix int }

// segment is a span of encoded text and its decoding.
type segment struct {
	start, end int
	kind       string
	decoded    []byte
}

const (
	minBase64   = 16
	maxDecoded  = 1 << 20
	contextBack = 160
)

// scanDecoded finds encoded segments in buf, decodes them, scans the
// decoded text (with the line's leading context, so keyed rules still see
// their keyword) and appends matches mapped to the encoded span.
func (e *Engine) scanDecoded(out []Match, buf []byte, sc *scanCtx, depth int) []Match {
	raw := len(out)
	replaced := make([]bool, raw)
	for _, seg := range findSegments(buf) {
		lineStart := max(0, seg.start-contextBack)
		if i := bytes.LastIndexByte(buf[lineStart:seg.start], '\n'); i >= 0 {
			lineStart += i + 1
		}
		prefix := buf[lineStart:seg.start]
		text := make([]byte, 0, len(prefix)+len(seg.decoded))
		text = append(append(text, prefix...), seg.decoded...)
		inner := e.scan(text, sc, false, depth+1, &decodeCtx{prefix: len(prefix)})
	next:
		for _, m := range inner {
			for i, r := range out[:raw] {
				if r.Secret == m.Secret {
					continue next
				}
				inSeg := r.Start >= seg.start && r.End <= seg.end
				covers := overlapsMost(r.Start, r.End, seg.start, seg.end)
				switch {
				case inSeg && 10*(r.End-r.Start) >= 9*(seg.end-seg.start):
					// The raw match is the encoded text itself: report what
					// it decodes to, unless the raw match is surer.
					if m.Confidence < r.Confidence {
						continue next
					}
					replaced[i] = true
				case covers:
					continue next // a larger raw match holds this segment
				case inSeg && r.RuleID == m.RuleID:
					continue next // the rule found it in the raw text already
				}
			}
			m.Start, m.End = seg.start, seg.end
			m.Decoded = append([]string{seg.kind}, m.Decoded...)
			out = append(out, m)
		}
	}
	kept := out[:0]
	for i, m := range out {
		if i >= raw || !replaced[i] {
			kept = append(kept, m)
		}
	}
	return kept
}

// overlapsMost reports whether [a,b) covers at least half of [s,e).
func overlapsMost(a, b, s, e int) bool {
	o := min(b, e) - max(a, s)
	return o > 0 && 2*o >= e-s
}

// findSegments returns base64 runs that decode to text, percent-encoded
// tokens and string literals with escapes, in order of start.
func findSegments(buf []byte) []segment {
	var segs []segment
	escEnd, pctEnd := -1, -1
	for i := 0; i < len(buf); {
		c := buf[i]
		if b64Flags[c] == 0 {
			switch {
			case c == '%' && i > pctEnd && i+2 < len(buf) && isHex(string(buf[i+1:i+3])):
				s, en := tokenAround(buf, i)
				pctEnd = en
				if u, err := url.PathUnescape(string(buf[s:en])); err == nil && u != string(buf[s:en]) && printable([]byte(u)) {
					segs = append(segs, segment{s, en, "percent", []byte(u)})
				}
			case c == '\\' && i > escEnd && i+1 < len(buf) && isEscapeByte(buf[i+1]):
				s, en := stringAround(buf, i)
				escEnd = en
				// Short strings with a newline escape hide nothing the raw
				// scan misses; \u, \x and \/ can split a secret, and long
				// escaped strings hold PEM keys and documents.
				if en-s >= 16 && (buf[i+1] == 'u' || buf[i+1] == 'x' || buf[i+1] == '/' || en-s >= 100) {
					if d, ok := unescape(buf[s:en]); ok {
						segs = append(segs, segment{s, en, "escape", d})
					}
				}
			}
			i++
			continue
		}
		// A run of base64 alphabet: note which classes it holds.
		j := i
		var acc uint8
		for j < len(buf) {
			f := b64Flags[buf[j]]
			if f == 0 {
				break
			}
			acc |= f
			j++
		}
		k := j
		for k < len(buf) && k-j < 2 && buf[k] == '=' {
			k++
		}
		if j-i >= minBase64 && looksBase64(acc, k > j) {
			if d := decodeBase64Text(buf[i:j], acc&fURLSym != 0); d != nil {
				segs = append(segs, segment{i, k, "base64", d})
			}
		}
		i = k
	}
	// Percent and escape segments start before the offset they were
	// found at: order all by start.
	slices.SortStableFunc(segs, func(a, b segment) int { return a.start - b.start })
	return segs
}

// Byte classes of the base64 alphabets, as bit flags.
const (
	fB64    = 1 << iota // in the standard or URL-safe alphabet
	fUpper              // A-Z
	fLower              // a-z
	fDigit              // 0-9
	fStdSym             // + or /
	fURLSym             // - or _
	fNotHex             // not a lower-case hex digit
)

var b64Flags = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		var f uint8
		switch {
		case b >= 'A' && b <= 'Z':
			f = fB64 | fUpper | fNotHex
		case b >= 'a' && b <= 'z':
			f = fB64 | fLower
			if b > 'f' {
				f |= fNotHex
			}
		case b >= '0' && b <= '9':
			f = fB64 | fDigit
		case b == '+' || b == '/':
			f = fB64 | fStdSym | fNotHex
		case b == '-' || b == '_':
			f = fB64 | fURLSym | fNotHex
		}
		t[c] = f
	}
	return t
}()

// looksBase64 screens a run by its classes before any decoding: both
// letter cases, not hex, one alphabet only, and a digit, a symbol or
// padding (long identifiers have none).
func looksBase64(acc uint8, padded bool) bool {
	return acc&(fUpper|fLower) == fUpper|fLower && acc&fNotHex != 0 &&
		acc&(fStdSym|fURLSym) != fStdSym|fURLSym &&
		(acc&(fDigit|fStdSym) != 0 || padded)
}

// decodeBase64Text decodes a run that could be base64 and returns the
// decoding only when it is printable text worth scanning.
func decodeBase64Text(run []byte, urlSafe bool) []byte {
	if len(run) > maxDecoded || len(run)%4 == 1 {
		return nil
	}
	enc := base64.RawStdEncoding
	if urlSafe {
		enc = base64.RawURLEncoding
	}
	d := make([]byte, enc.DecodedLen(len(run)))
	n, err := enc.Decode(d, run)
	if err != nil || n < 8 {
		return nil
	}
	d = d[:n]
	if !printable(d) {
		return nil
	}
	return d
}

// printable reports valid UTF-8 with no control bytes but tab and newlines.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// tokenAround expands from offset i to the surrounding run of bytes that
// can appear in a URL or a percent-encoded value.
func tokenAround(buf []byte, i int) (int, int) {
	stop := func(c byte) bool {
		return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == 0x7f
	}
	s := i
	for s > 0 && i-s < 2048 && !stop(buf[s-1]) {
		s--
	}
	e := i
	for e < len(buf) && e-i < 4096 && !stop(buf[e]) {
		e++
	}
	return s, e
}

func isEscapeByte(c byte) bool {
	switch c {
	case 'n', 'r', 't', '"', '\'', '\\', '/', 'u', 'x':
		return true
	}
	return false
}

// stringAround returns the body of the quoted string literal holding the
// escape at i, or the rest of the line when no quote encloses it.
func stringAround(buf []byte, i int) (int, int) {
	lo := max(0, i-4096)
	s := lo
	if k := bytes.LastIndexByte(buf[lo:i], '\n'); k >= 0 {
		s = lo + k + 1
	}
	var quote byte
	for k := i - 1; k >= s; k-- {
		if c := buf[k]; (c == '"' || c == '\'' || c == '`') && (k == 0 || buf[k-1] != '\\') {
			quote, s = c, k+1
			break
		}
	}
	e := i
	for e < len(buf) && e-i < 1<<16 && buf[e] != '\n' {
		if buf[e] == '\\' {
			e += 2
			continue
		}
		if quote != 0 && buf[e] == quote {
			break
		}
		e++
	}
	return s, min(e, len(buf))
}

// unescape decodes C/JSON/JavaScript string escapes. It reports false when
// nothing changed.
func unescape(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b))
	changed := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		changed = true
		i++
		switch b[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 < len(b) {
				if v, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 32); err == nil {
					out = utf8.AppendRune(out, rune(v))
					i += 4
					continue
				}
			}
			out = append(out, '\\', 'u')
		case 'x':
			if i+2 < len(b) {
				if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
					out = append(out, byte(v))
					i += 2
					continue
				}
			}
			out = append(out, '\\', 'x')
		default:
			out = append(out, b[i])
		}
	}
	return out, changed
}
