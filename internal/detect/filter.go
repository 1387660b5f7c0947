package detect

import (
	"math"
	"regexp"
	"strings"
)

var (
	dottedIdent = regexp.MustCompile(`^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$`)
	camelIdent  = regexp.MustCompile(`^_?[a-z]+(?:[A-Z][a-z]+)+[0-9]*$`)
	pascalIdent = regexp.MustCompile(`^(?:[A-Z][a-z]+)+$`)
	// A path: only path characters, and a leading slash or two slashes.
	pathLike = regexp.MustCompile(`^(?:(?:~|\.{0,2})/[\w.@~-]+(?:/[\w.@~-]*)*|[\w.@~-]+(?:/[\w.@~-]+){2,}/?)$|^[\w.~/-]+\.(?:txt|pem|key|json|ya?ml|env|cfg|conf|ini|crt|p12|pfx|jks|properties)$`)
)

// entropyFloor is the entropy a secret of n bytes must reach under a
// rule asking for floor: short random strings cannot reach a high
// entropy (16 bytes have at most 4 bits each), so the floor is capped at
// 85% of the maximum for the length (from 12 bytes on).
func entropyFloor(floor float64, n int) float64 {
	if n < 12 {
		return floor // too short to judge by length: keep the rule's floor
	}
	return min(floor, 0.85*math.Log2(float64(n)))
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// placeholderWords mark a value as documentation or a template rather than
// a credential. Matched case-insensitively anywhere in the secret.
var placeholderWords = []string{
	"example", "xxxx", "changeme", "change_me", "placeholder", "your_", "your-",
	"<", ">", "${", "{{", "redacted", "****", "...", "insert", "replace_me", "replaceme",
	"fake", "dummy", "sample", "secret_here", "token_here", "key_here", "0000000000",
}

// isPlaceholder reports whether s looks like a template, an example or a
// masked value.
func isPlaceholder(s string) bool {
	l := strings.ToLower(s)
	for _, w := range placeholderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	// A value that is one character repeated (aaaaaaaa, 11111111).
	if len(s) >= 4 && strings.Count(s, s[:1]) == len(s) {
		return true
	}
	// Shell, Make, ERB or printf templates: $VAR, $(cmd), %s, %(name)s.
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "%") {
		return true
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a canonical UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i : i+1]) {
				return false
			}
		}
	}
	return true
}

// isHashLike reports hex digests (MD5, SHA-1 and git object IDs, SHA-256,
// SHA-512) and Subresource-Integrity strings as found in lock files.
func isHashLike(s string) bool {
	switch len(s) {
	case 32, 40, 64, 128:
		if isHex(s) {
			return true
		}
	}
	for _, p := range []string{"sha1-", "sha256-", "sha384-", "sha512-", "sha256:", "sha512:", "h1:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// rejectGeneric applies the extra filters of the generic tier: values that
// are identifiers, paths, hashes or UUIDs are not passwords.
func rejectGeneric(s string) bool {
	if isUUID(s) || isHashLike(s) {
		return true
	}
	var lower, upper, digit, symbol bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			symbol = true
		}
	}
	// A value needs letters and a digit or symbol, or, letters only, both
	// cases in no word-like shape (random, not PascalCase).
	switch {
	case !lower && !upper:
		return true
	case !digit && !symbol && (!lower || !upper || len(s) < 12 || pascalIdent.MatchString(s)):
		return true
	}
	if strings.Contains(s, "://") || pathLike.MatchString(s) {
		return true
	}
	// Code, not a value: calls, composite literals, member access,
	// camelCase identifiers.
	if strings.ContainsAny(s, "()[]{}") || dottedIdent.MatchString(s) || camelIdent.MatchString(s) || strings.Contains(s, "->") || strings.HasPrefix(s, "os.") ||
		strings.HasPrefix(s, "process.env") || strings.HasPrefix(s, "env.") {
		return true
	}
	return false
}
