// Package partner speaks GitHub's secret scanning partner protocol in both
// directions. As a provider, Receiver authenticates alerts that GitHub (or
// another scanning host) POSTs: an ECDSA P-256 signature over the raw body,
// checked against a cached, rotating public keys document (KeySource). As a
// scanning host, Sender signs and posts alerts to a partner with a Signer,
// whose public key is published in the same document format.
//
// Alerts carry live secrets. Nothing in this package puts a token into an
// error, and Alert's String and LogValue methods redact it.
package partner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Header names of the protocol.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// Errors returned by Receiver.Parse and KeySource.Key; StatusFor maps them
// to HTTP statuses.
var (
	// ErrUnsigned reports a request without the key identifier or
	// signature header.
	ErrUnsigned = errors.New("partner: request is not signed")
	// ErrBadSignature reports a signature that is not valid base64 or
	// ASN.1, or does not verify over the body.
	ErrBadSignature = errors.New("partner: signature does not verify")
	// ErrUnknownKey reports a key identifier that is not in the keys
	// document, even after the (rate-limited) refetch.
	ErrUnknownKey = errors.New("partner: unknown public key identifier")
	// ErrKeysUnavailable reports that the public keys document could not
	// be fetched or parsed and no cached copy is usable.
	ErrKeysUnavailable = errors.New("partner: public keys unavailable")
	// ErrTooLarge reports a body larger than Receiver.MaxBody.
	ErrTooLarge = errors.New("partner: body too large")
	// ErrMalformed reports a body that cannot be read or is not a JSON
	// array of alerts.
	ErrMalformed = errors.New("partner: malformed alerts")
	// ErrMethod reports a request method other than POST.
	ErrMethod = errors.New("partner: method not allowed")
)

// Alert is one match sent by the scanning host.
type Alert struct {
	// Token is the leaked secret itself.
	Token string `json:"token"`
	// Type is the provider-chosen token type name.
	Type string `json:"type"`
	// URL is the public URL of the match; it may be empty.
	URL string `json:"url"`
	// Source is where the match was found (commit, content, gist_content,
	// npm, ...). GitHub documents capitalised names but sends lowercase,
	// so compare case-insensitively.
	Source string `json:"source"`
}

// TokenHash returns the hex SHA-256 of the token: a stable identifier for
// the secret that is safe to log and is what feedback labels carry.
func (a Alert) TokenHash() string {
	sum := sha256.Sum256([]byte(a.Token))
	return hex.EncodeToString(sum[:])
}

// String describes the alert without the token.
func (a Alert) String() string {
	return fmt.Sprintf("alert{type=%q source=%q url=%q token_sha256=%s}", a.Type, a.Source, a.URL, a.TokenHash())
}

// LogValue makes slog log the alert without the token.
func (a Alert) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", a.Type),
		slog.String("source", a.Source),
		slog.String("url", a.URL),
		slog.String("token_sha256", a.TokenHash()),
	)
}

// StatusFor returns the HTTP status a provider endpoint should answer for
// an error returned by Receiver.Parse:
//
//   - nil: 200 OK
//   - ErrUnsigned: 401 Unauthorized
//   - ErrBadSignature, ErrUnknownKey: 403 Forbidden (credentials were
//     presented and are not valid)
//   - ErrKeysUnavailable: 503 Service Unavailable, so the sender retries
//   - ErrTooLarge: 413 Content Too Large
//   - ErrMalformed: 400 Bad Request
//   - ErrMethod: 405 Method Not Allowed
//   - anything else: 500 Internal Server Error
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnsigned):
		return http.StatusUnauthorized
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrUnknownKey):
		return http.StatusForbidden
	case errors.Is(err, ErrKeysUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}
