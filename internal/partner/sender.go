package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// excerptLen caps the response body quoted in an HTTPError.
const excerptLen = 256

// Sender posts signed alert batches to a partner's endpoint.
type Sender struct {
	// Endpoint is the partner's URL.
	Endpoint string
	// Signer signs each batch.
	Signer Signer
	// Client makes the requests; nil means a client with a 30 s timeout
	// (GitHub's own limit for partner endpoints).
	Client *http.Client
}

// HTTPError is a non-2xx answer from the partner endpoint. Body is a
// short, printable excerpt of the response with the batch's tokens
// redacted.
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("partner endpoint answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("partner endpoint answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// Send posts alerts as one signed JSON array. An empty batch sends
// nothing. A non-2xx answer is an *HTTPError; no error contains a token.
func (s *Sender) Send(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("partner: encode alerts: %w", err)
	}
	sig, err := s.Signer.Sign(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("partner: send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "leakguard-partner")
	req.Header.Set(HeaderKeyID, s.Signer.KeyID)
	req.Header.Set(HeaderSignature, sig)

	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("partner: send %d alerts: %w", len(alerts), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // allow connection reuse
		return nil
	}
	// Read past the excerpt by the longest token so a token straddling
	// the cut is still seen whole and redacted.
	longest := 0
	for _, a := range alerts {
		longest = max(longest, len(a.Token))
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, int64(excerptLen+longest)))
	return fmt.Errorf("partner: send %d alerts: %w", len(alerts), &HTTPError{
		StatusCode: resp.StatusCode,
		Body:       excerpt(raw, alerts),
	})
}

// excerpt redacts every token in raw, cuts it to excerptLen bytes, drops
// any trailing fragment that could begin a token (raw itself may end in
// the middle of one), and makes it printable.
func excerpt(raw []byte, alerts []Alert) string {
	s := string(raw)
	for _, a := range alerts {
		if a.Token != "" {
			s = strings.ReplaceAll(s, a.Token, "[token]")
		}
	}
	s = trimTokenFragments(s, alerts)
	if len(s) > excerptLen {
		s = trimTokenFragments(s[:excerptLen], alerts)
	}
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return strings.TrimSpace(s)
}

// trimTokenFragments removes, until none is left, any suffix of s that is
// a proper prefix of a token.
func trimTokenFragments(s string, alerts []Alert) string {
	for changed := true; changed; {
		changed = false
		for _, a := range alerts {
			if t := trimTokenPrefixSuffix(s, a.Token); len(t) < len(s) {
				s, changed = t, true
			}
		}
	}
	return s
}

// trimTokenPrefixSuffix removes the longest suffix of s that is a prefix
// of token.
func trimTokenPrefixSuffix(s, token string) string {
	for n := min(len(token)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, token[:n]) {
			return s[:len(s)-n]
		}
	}
	return s
}
