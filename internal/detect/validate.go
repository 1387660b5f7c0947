package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/url"
	"strconv"
	"strings"

	"github.com/leakguard/leakguard/internal/awskey"
	"github.com/leakguard/leakguard/internal/rules"
)

// A validator checks a candidate secret beyond its pattern. It returns
// false to drop the candidate; it may raise the confidence and add
// attributes to the match.
type validator func(m *Match) bool

// validators resolves a rule's validator name ("base64:64" carries an
// argument after the colon).
func lookupValidator(spec string) (validator, error) {
	name, arg, _ := strings.Cut(spec, ":")
	switch name {
	case "":
		return nil, nil
	case "github-crc32", "npm-crc32":
		return validateCRC32Token, nil
	case "aws-key-id":
		return validateAWSKeyID, nil
	case "jwt":
		return validateJWT, nil
	case "pem-private-key":
		return validatePEM, nil
	case "url-password":
		return validateURLPassword, nil
	case "pypi-macaroon":
		return validatePyPI, nil
	case "base64":
		n, err := strconv.Atoi(arg)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("validator %q: want base64:N with N > 0", spec)
		}
		return func(m *Match) bool { return base64Len(m.Secret) == n }, nil
	}
	return nil, fmt.Errorf("unknown validator %q", spec)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// CRC32Checksum returns the 6-character base62 checksum GitHub and npm
// append to the 30 random characters of their tokens.
func CRC32Checksum(random string) string {
	v := crc32.ChecksumIEEE([]byte(random))
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// validateCRC32Token checks GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm
// (npm_) tokens: prefix, 30 random characters, 6 checksum characters.
func validateCRC32Token(m *Match) bool {
	s := m.Secret
	i := strings.IndexByte(s, '_')
	if i < 0 || len(s)-i-1 != 36 {
		return false
	}
	body := s[i+1:]
	if CRC32Checksum(body[:30]) != body[30:] {
		return false
	}
	m.Confidence = rules.High
	m.setAttr("checksum", "valid")
	return true
}

// validateAWSKeyID checks the key ID (the identifier when the rule pairs
// it with a secret key) and decodes the owning account.
func validateAWSKeyID(m *Match) bool {
	id := m.Identifier
	if id == "" {
		id = m.Secret
	}
	if !awskey.IsAccessKeyID(id) || awskey.IsDocumentationExample(id) ||
		awskey.IsDocumentationExample(m.Secret) {
		return false
	}
	if acct, err := awskey.AccountID(id); err == nil {
		m.setAttr("aws_account_id", acct)
	}
	m.setAttr("aws_key_type", awskey.Kind(id))
	return true
}

func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func validateJWT(m *Match) bool {
	parts := strings.Split(m.Secret, ".")
	if len(parts) != 3 || parts[2] == "" {
		return false
	}
	h, err := decodeB64URL(parts[0])
	if err != nil {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(h, &header) != nil || header.Alg == "" || strings.EqualFold(header.Alg, "none") {
		return false
	}
	if _, err := decodeB64URL(parts[1]); err != nil {
		return false
	}
	if sig, err := decodeB64URL(parts[2]); err != nil || len(sig) < 16 {
		return false
	}
	m.setAttr("jwt_alg", header.Alg)
	return true
}

// validatePEM checks that a private-key block has a body that decodes.
// JSON-escaped newlines (\n) are accepted as line breaks.
func validatePEM(m *Match) bool {
	s := strings.ReplaceAll(m.Secret, `\n`, "\n")
	s = strings.ReplaceAll(s, `\r`, "")
	lines := strings.Split(s, "\n")
	var body strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		// A key pasted into code as string literals ("MIIE..." +):
		// keep what is between the quotes. Never trim + or / or =,
		// which base64 lines may end with.
		if i := strings.IndexAny(l, `"'`); i >= 0 {
			if j := strings.LastIndexAny(l, `"'`); j > i {
				l = l[i+1 : j]
			} else {
				l = l[i+1:]
			}
		}
		if l == "" || strings.HasPrefix(l, "-----") || strings.Contains(l, ":") {
			continue // armour lines and headers (Proc-Type, DEK-Info, Comment)
		}
		if strings.HasPrefix(l, "=") && len(l) == 5 {
			continue // PGP CRC24
		}
		body.WriteString(l)
	}
	b := body.String()
	if len(b) < 64 || isPlaceholder(b) {
		return false
	}
	if base64Len(b) < 48 {
		return false
	}
	m.Confidence = rules.High
	return true
}

// base64Len returns the decoded length of standard (or URL-safe) base64 s,
// or -1 when s is not base64.
func base64Len(s string) int {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return len(b)
		}
	}
	return -1
}

func validateURLPassword(m *Match) bool {
	p := m.Secret
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	if p == "" || isPlaceholder(p) || strings.ContainsAny(p, "$%{}") && (strings.Contains(p, "${") || strings.Contains(p, "{{") || strings.Contains(p, "%s") || strings.HasPrefix(p, "$")) {
		return false
	}
	switch strings.ToLower(p) {
	case "password", "pass", "passwd", "pwd", "secret", "pw", "root", "admin", "postgres", "mysql", "guest", "user", "test", "foo", "bar", "x":
		return false
	}
	return true
}

func validatePyPI(m *Match) bool {
	// The macaroon's location ("pypi.org") is near its start: decode a
	// prefix whole quadruplets long, whatever the token's length.
	body := strings.TrimPrefix(m.Secret, "pypi-")
	body = body[:min(len(body), 64)/4*4]
	b, err := base64.URLEncoding.DecodeString(body)
	if err != nil {
		b, err = base64.StdEncoding.DecodeString(body)
	}
	if err != nil || !bytes.Contains(b, []byte("pypi.org")) {
		return false
	}
	m.Confidence = rules.High
	return true
}
