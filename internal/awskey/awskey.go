// Package awskey decodes AWS access key IDs offline: their type prefix and,
// for new-generation keys, the 12-digit account that owns them.
package awskey

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// ErrOldGeneration is returned for key IDs that predate account encoding
// (5th character I or J, as in AWS's documentation example).
var ErrOldGeneration = errors.New("old-generation key ID does not encode the account")

// prefixes maps the 4-character prefix to what the identifier is.
var prefixes = map[string]string{
	"ABIA": "STS service bearer token",
	"ACCA": "context-specific credential",
	"AGPA": "user group",
	"AIDA": "IAM user",
	"AIPA": "EC2 instance profile",
	"AKIA": "long-term access key",
	"ANPA": "managed policy",
	"ANVA": "managed policy version",
	"APKA": "public key",
	"AROA": "role",
	"ASCA": "certificate",
	"ASIA": "temporary STS access key",
}

// Kind names what an identifier with this prefix is, or "" when unknown.
func Kind(id string) string {
	if len(id) < 4 {
		return ""
	}
	return prefixes[id[:4]]
}

// IsAccessKeyID reports whether id has the shape of an access key ID:
// AKIA, ASIA, ABIA or ACCA followed by 16 base32 characters.
func IsAccessKeyID(id string) bool {
	if len(id) != 20 {
		return false
	}
	switch id[:4] {
	case "AKIA", "ASIA", "ABIA", "ACCA":
	default:
		return false
	}
	for i := 4; i < 20; i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// documentation lists the key IDs and secrets AWS publishes in its docs.
var documentation = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE":                     true,
	"ASIAIOSFODNN7EXAMPLE":                     true,
	"AKIAI44QH8DHBEXAMPLE":                     true,
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true,
	"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY": true,
}

// IsDocumentationExample reports whether s is one of AWS's published
// example key IDs or secret keys.
func IsDocumentationExample(s string) bool { return documentation[s] }

// AccountID decodes the 12-digit account ID from a new-generation key ID.
func AccountID(id string) (string, error) {
	if len(id) != 20 {
		return "", fmt.Errorf("key ID %q: want 20 characters", redact(id))
	}
	if c := id[4]; c == 'I' || c == 'J' {
		return "", ErrOldGeneration
	}
	b, err := base32.StdEncoding.DecodeString(id[4:])
	if err != nil {
		return "", fmt.Errorf("key ID %q: %w", redact(id), err)
	}
	var z uint64
	for _, x := range b[:6] {
		z = z<<8 | uint64(x)
	}
	acct := (z & 0x7fffffffff80) >> 7
	if acct > 999_999_999_999 {
		// 40 bits reach past 12 digits; no real key decodes there.
		return "", fmt.Errorf("key ID %q does not decode to an account ID", redact(id))
	}
	return fmt.Sprintf("%012d", acct), nil
}

func redact(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	return id[:4] + "…"
}
