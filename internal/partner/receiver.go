package partner

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBody is the body cap when Receiver.MaxBody is zero.
const DefaultMaxBody int64 = 10 << 20

// Receiver authenticates and decodes alert batches POSTed to a provider
// endpoint.
type Receiver struct {
	// Keys resolves key identifiers to public keys. Required.
	Keys *KeySource
	// MaxBody caps the request body in bytes; zero means DefaultMaxBody.
	MaxBody int64
}

// Parse authenticates r and returns its alerts. It checks the method and
// the two signature headers, reads the raw body (capped), verifies the
// ECDSA signature over the SHA-256 of exactly those bytes, and only then
// decodes the JSON array. Errors wrap the package's sentinel errors and
// never contain a token; StatusFor maps them to HTTP statuses.
func (rc *Receiver) Parse(r *http.Request) ([]Alert, error) {
	if rc.Keys == nil {
		return nil, errors.New("partner: receiver has no key source")
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	keyID := strings.TrimSpace(r.Header.Get(HeaderKeyID))
	sigB64 := strings.TrimSpace(r.Header.Get(HeaderSignature))
	if keyID == "" || sigB64 == "" {
		return nil, fmt.Errorf("%w: need both %s and %s", ErrUnsigned, HeaderKeyID, HeaderSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	body, err := readBody(r, rc.maxBody())
	if err != nil {
		return nil, err
	}
	pub, err := rc.Keys.Key(r.Context(), keyID)
	if err != nil {
		return nil, err
	}
	if !Verify(pub, body, sig) {
		return nil, fmt.Errorf("%w with key %q", ErrBadSignature, truncate(keyID, 80))
	}
	return ParseAlerts(body)
}

// Verify reports whether sig, an ASN.1 DER ECDSA signature, signs the
// SHA-256 of body under pub.
func Verify(pub *ecdsa.PublicKey, body, sig []byte) bool {
	digest := sha256.Sum256(body)
	return ecdsa.VerifyASN1(pub, digest[:], sig)
}

// ParseAlerts decodes an (already authenticated) JSON array of alerts.
// Every alert must have a token. Errors never contain a token: JSON
// errors are reduced to their offset and expected type.
func ParseAlerts(body []byte) ([]Alert, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%w: body is not a JSON array", ErrMalformed)
	}
	var alerts []Alert
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	for i, a := range alerts {
		if a.Token == "" {
			return nil, fmt.Errorf("%w: alert %d has no token", ErrMalformed, i)
		}
	}
	if alerts == nil {
		alerts = []Alert{}
	}
	return alerts, nil
}

// jsonError keeps the position of a JSON error and drops the literal
// that caused it, which may be a token (json's type errors quote
// numbers, for instance).
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("decode alerts: field %q: want %s at offset %d", typeErr.Field, typeErr.Type, typeErr.Offset)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("decode alerts: invalid JSON at offset %d", syntaxErr.Offset)
	}
	return errors.New("decode alerts: invalid JSON")
}

func (rc *Receiver) maxBody() int64 {
	if rc.MaxBody > 0 {
		return rc.MaxBody
	}
	return DefaultMaxBody
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrTooLarge, r.ContentLength, limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrMalformed, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, limit)
	}
	return body, nil
}
