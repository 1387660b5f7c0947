// Package pushhook receives GitHub-style push webhooks (GitHub and Gitea):
// it caps the body, checks the HMAC-SHA256 signature over the raw bytes,
// rejects replayed deliveries and only then decodes the push payload.
package pushhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxBody is the body cap when Verifier.MaxBody is zero: GitHub does
// not send payloads over 25 MB.
const DefaultMaxBody int64 = 25 << 20

// Provider names reported in Push.Provider.
const (
	ProviderGitHub = "github"
	ProviderGitea  = "gitea"
)

// Header names used by GitHub and Gitea.
const (
	HeaderSignature       = "X-Hub-Signature-256"
	HeaderGiteaSignature  = "X-Gitea-Signature"
	HeaderEvent           = "X-GitHub-Event"
	HeaderGiteaEvent      = "X-Gitea-Event"
	HeaderDelivery        = "X-GitHub-Delivery"
	HeaderGiteaDelivery   = "X-Gitea-Delivery"
	signaturePrefixSHA256 = "sha256="
)

// Errors returned by Verifier.Parse; StatusFor maps them to HTTP statuses.
var (
	// ErrPing reports a correctly signed ping event: the hook was set up
	// and the server should answer 200.
	ErrPing = errors.New("pushhook: ping event")
	// ErrUnsigned reports a request without a signature header.
	ErrUnsigned = errors.New("pushhook: request is not signed")
	// ErrBadSignature reports a signature that is malformed or does not
	// match the body.
	ErrBadSignature = errors.New("pushhook: signature does not match")
	// ErrReplay reports a delivery (by delivery ID or identical body) that
	// was already accepted within the replay window.
	ErrReplay = errors.New("pushhook: delivery already seen")
	// ErrTooLarge reports a body larger than Verifier.MaxBody.
	ErrTooLarge = errors.New("pushhook: body too large")
	// ErrMalformed reports a body that cannot be read or is not a valid
	// push payload.
	ErrMalformed = errors.New("pushhook: malformed payload")
	// ErrContentType reports a content type other than application/json
	// or application/x-www-form-urlencoded.
	ErrContentType = errors.New("pushhook: unsupported content type")
	// ErrUnsupportedEvent reports a signed event other than push or ping,
	// or a missing event header.
	ErrUnsupportedEvent = errors.New("pushhook: unsupported event")
	// ErrMethod reports a request method other than POST.
	ErrMethod = errors.New("pushhook: method not allowed")
	// ErrNoSecret reports a Verifier without a secret: a misconfiguration,
	// since anyone can compute an HMAC with an empty key.
	ErrNoSecret = errors.New("pushhook: no webhook secret configured")
)

// Verifier authenticates and decodes push webhook deliveries.
type Verifier struct {
	// Secret is the webhook secret shared with GitHub or Gitea. Required.
	Secret []byte
	// MaxBody caps the request body in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Replay, if set, rejects deliveries seen before (see ReplayCache).
	Replay ReplayCache
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Parse authenticates r and returns the push it carries. The order is:
// method, body size cap, signature over the raw body, event type, content
// type, JSON decoding, then the replay check, so only a valid push is
// recorded in the replay cache. Errors wrap the package's sentinel errors;
// StatusFor maps them to the HTTP status to answer.
func (v *Verifier) Parse(r *http.Request) (Push, error) {
	if len(v.Secret) == 0 {
		return Push{}, ErrNoSecret
	}
	if r.Method != http.MethodPost {
		return Push{}, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	body, err := readBody(r, v.maxBody())
	if err != nil {
		return Push{}, err
	}
	if err := v.checkSignature(r.Header, body); err != nil {
		return Push{}, err
	}

	provider, event := eventOf(r.Header)
	switch event {
	case "push":
	case "ping":
		return Push{}, ErrPing
	case "":
		return Push{}, fmt.Errorf("%w: no %s header", ErrUnsupportedEvent, HeaderEvent)
	default:
		return Push{}, fmt.Errorf("%w: %q", ErrUnsupportedEvent, truncate(event, 64))
	}

	payload, err := payloadOf(r.Header.Get("Content-Type"), body)
	if err != nil {
		return Push{}, err
	}
	push, err := decodePush(payload)
	if err != nil {
		return Push{}, err
	}
	push.Provider = provider
	push.DeliveryID = deliveryOf(r.Header)
	push.ReceivedAt = v.now()

	if v.Replay != nil {
		if err := checkReplay(v.Replay, &push, payload); err != nil {
			return Push{}, err
		}
	}
	return push, nil
}

// Sign returns the X-Hub-Signature-256 header value for body:
// "sha256=" followed by the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	return signaturePrefixSHA256 + hex.EncodeToString(mac(secret, body))
}

// StatusFor returns the HTTP status a server should answer for an error
// returned by Verifier.Parse:
//
//   - nil: 202 Accepted (the push is queued for scanning)
//   - ErrPing: 200 OK
//   - ErrUnsigned: 401 Unauthorized
//   - ErrBadSignature: 403 Forbidden. A signature was presented and is
//     wrong, which is distinguishable in the sender's delivery log from a
//     missing one (typically a secret mismatch).
//   - ErrReplay: 409 Conflict
//   - ErrTooLarge: 413 Content Too Large
//   - ErrContentType: 415 Unsupported Media Type
//   - ErrMethod: 405 Method Not Allowed
//   - ErrMalformed, ErrUnsupportedEvent: 400 Bad Request
//   - anything else (including ErrNoSecret): 500 Internal Server Error
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusAccepted
	case errors.Is(err, ErrPing):
		return http.StatusOK
	case errors.Is(err, ErrUnsigned):
		return http.StatusUnauthorized
	case errors.Is(err, ErrBadSignature):
		return http.StatusForbidden
	case errors.Is(err, ErrReplay):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrUnsupportedEvent):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBody > 0 {
		return v.MaxBody
	}
	return DefaultMaxBody
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// checkSignature verifies the GitHub header, or Gitea's bare-hex header
// when the GitHub one is absent. Gitea sends both with the same MAC.
func (v *Verifier) checkSignature(h http.Header, body []byte) error {
	var hexSig string
	if sig := h.Get(HeaderSignature); sig != "" {
		rest, ok := strings.CutPrefix(sig, signaturePrefixSHA256)
		if !ok {
			return fmt.Errorf("%w: %s is not sha256=<hex>", ErrBadSignature, HeaderSignature)
		}
		hexSig = rest
	} else if sig := h.Get(HeaderGiteaSignature); sig != "" {
		hexSig = sig
	} else {
		return fmt.Errorf("%w: no %s or %s header", ErrUnsigned, HeaderSignature, HeaderGiteaSignature)
	}
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	if !hmac.Equal(got, mac(v.Secret, body)) {
		return ErrBadSignature
	}
	return nil
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// readBody reads at most limit bytes of the body, failing with ErrTooLarge
// beyond it (without reading more than limit+1 bytes).
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

// eventOf returns the provider and event name. Gitea sends X-Gitea-Event
// alongside X-GitHub-Event, so its header decides the provider.
func eventOf(h http.Header) (provider, event string) {
	if e := h.Get(HeaderGiteaEvent); e != "" {
		return ProviderGitea, strings.TrimSpace(e)
	}
	return ProviderGitHub, strings.TrimSpace(h.Get(HeaderEvent))
}

func deliveryOf(h http.Header) string {
	if id := h.Get(HeaderDelivery); id != "" {
		return truncate(strings.TrimSpace(id), 128)
	}
	return truncate(strings.TrimSpace(h.Get(HeaderGiteaDelivery)), 128)
}

// payloadOf returns the JSON document: the body itself for
// application/json, or the payload field for a form-encoded delivery.
func payloadOf(contentType string, body []byte) ([]byte, error) {
	if contentType == "" {
		return nil, fmt.Errorf("%w: no Content-Type", ErrContentType)
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrContentType, truncate(contentType, 64))
	}
	switch mediaType {
	case "application/json":
		return body, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
		}
		if !form.Has("payload") {
			return nil, fmt.Errorf("%w: form body has no payload field", ErrMalformed)
		}
		return []byte(form.Get("payload")), nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrContentType, truncate(mediaType, 64))
	}
}

// checkReplay records the delivery ID and the payload digest. The delivery
// header is not covered by the signature, so a replay with a fresh ID is
// caught by the digest of the JSON payload (the same whether it came
// form-encoded or not).
func replayKeys(p Push, payload []byte) []string {
	digest := sha256.Sum256(payload)
	keys := []string{"payload:" + hex.EncodeToString(digest[:])}
	if p.DeliveryID != "" {
		keys = append(keys, "delivery:"+p.Provider+":"+p.DeliveryID)
	}
	return keys
}

// Forget removes a delivery from the replay cache, so that a redelivery
// is accepted: call it when the push could not be recorded after Parse
// accepted it.
func (v *Verifier) Forget(p Push) {
	f, ok := v.Replay.(interface{ Forget(key string) })
	if !ok {
		return
	}
	for _, k := range p.replayKeys {
		f.Forget(k)
	}
}

func checkReplay(c ReplayCache, p *Push, payload []byte) error {
	p.replayKeys = replayKeys(*p, payload)
	bodySeen := c.Seen(p.replayKeys[0], p.ReceivedAt)
	idSeen := false
	if len(p.replayKeys) > 1 {
		idSeen = c.Seen(p.replayKeys[1], p.ReceivedAt)
	}
	switch {
	case idSeen:
		return fmt.Errorf("%w: delivery %q", ErrReplay, p.DeliveryID)
	case bodySeen:
		return fmt.Errorf("%w: identical payload already received", ErrReplay)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
