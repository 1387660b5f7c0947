package ticket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// Webhook opens a case by posting it as JSON to a ticketing system's
// intake URL (a Jira automation webhook, a ServiceNow scripted REST
// endpoint, or similar):
//
//	{"subject": "...", "body": "...", "severity": "high", "cc": ["..."]}
type Webhook struct {
	URL    string
	Token  string       // sent as "Authorization: Bearer TOKEN" when set; never logged
	Client *http.Client // default http.DefaultClient
}

// Name implements Opener.
func (w *Webhook) Name() string { return "webhook" }

// Open implements Opener. The reference is the "key", "id" or "url" field
// of a JSON response, in that order of preference, else the HTTP status.
func (w *Webhook) Open(ctx context.Context, c Case) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("ticket webhook: %w", err)
	}
	cc := c.CC
	if cc == nil {
		cc = []string{}
	}
	body, err := json.Marshal(struct {
		Subject  string   `json:"subject"`
		Body     string   `json:"body"`
		Severity string   `json:"severity"`
		CC       []string `json:"cc"`
	}{c.Subject, c.Body, c.Severity, cc})
	if err != nil {
		return "", fmt.Errorf("ticket webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("ticket webhook: invalid URL: %w", stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ticket webhook POST to %s: %w", req.URL.Host, stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("ticket webhook POST to %s: reading response: %w", req.URL.Host, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("ticket webhook POST to %s: %s: %q", req.URL.Host, resp.Status, excerpt(data))
	}
	if ref := refFrom(data); ref != "" {
		return ref, nil
	}
	return resp.Status, nil
}

// refFrom picks the ticket reference out of a JSON object response.
func refFrom(data []byte) string {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return ""
	}
	for _, k := range []string{"key", "id", "url"} {
		switch v := obj[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

// stripURL drops the URL, which may carry a token, from an HTTP client
// error and keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// excerpt is the start of a response body as one printable line.
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
