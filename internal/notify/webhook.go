package notify

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
	"unicode/utf8"
)

// Webhook posts a short summary to a Slack-compatible incoming webhook
// as {"text": "..."} in Slack's mrkdwn.
type Webhook struct {
	// URL is the incoming webhook URL. It embeds a secret token, so it is
	// never put into errors or logs.
	URL    string
	Client *http.Client // default http.DefaultClient
}

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// Send posts the summary; the reference is the HTTP status. A 4xx answer
// other than 408 or 429 is a permanent error.
func (w *Webhook) Send(ctx context.Context, inc Incident) (string, error) {
	if inc.KeyID == "" || inc.Account == "" {
		return "", Permanent(errors.New("webhook: incident has no key ID or account"))
	}
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{slackText(inc)})
	if err != nil {
		return "", Permanent(fmt.Errorf("webhook: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return "", Permanent(fmt.Errorf("webhook: invalid URL: %w", stripURL(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("webhook POST to %s: %w", req.URL.Host, stripURL(err))
	}
	defer resp.Body.Close()
	excerpt := bodyExcerpt(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("webhook POST to %s: %s: %q", req.URL.Host, resp.Status, excerpt)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
			return "", Permanent(err)
		}
		return "", err
	}
	return resp.Status, nil
}

// stripURL drops the URL, with its secret token, from an HTTP client
// error and keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// bodyExcerpt reads a little of a response body, as one printable line.
func bodyExcerpt(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	io.Copy(io.Discard, io.LimitReader(r, 1<<20)) // let the connection be reused
	s := oneLine(string(b))
	if utf8.RuneCountInString(s) > 200 {
		s = truncate(s, 200)
	}
	return s
}

// slackText is the webhook's message: the incident in a few lines of
// Slack mrkdwn, with every incident value escaped.
func slackText(inc Incident) string {
	v := newView(inc)
	var b strings.Builder
	acct := v.Account
	if v.AccountName != "" {
		acct += " (" + v.AccountName + ")"
	}
	fmt.Fprintf(&b, ":rotating_light: *Exposed AWS access key* `%s` in account %s", slackEscape(v.KeyID), slackEscape(acct))
	switch {
	case v.Failed:
		b.WriteString(" - *containment incomplete: a step failed*")
	case !v.Contained:
		b.WriteString(" - *not yet contained*")
	case v.Policy != "":
		fmt.Fprintf(&b, " - contained (%s)", slackEscape(v.Policy))
	}
	b.WriteString("\n")
	if v.UserName != "" {
		who := "User"
		if v.Temporary {
			who = "Role"
		}
		fmt.Fprintf(&b, "• %s: %s\n", who, slackEscape(v.UserName))
	}
	fmt.Fprintf(&b, "• Live: %s\n", slackEscape(v.Live))
	switch {
	case v.FoundURL != "" && safeLink(v.FoundURL):
		fmt.Fprintf(&b, "• Found: <%s|%s>\n", slackEscape(v.FoundURL), slackEscape(orElse(v.FoundWhere, v.FoundURL)))
	case v.FoundWhere != "" || v.FoundURL != "":
		fmt.Fprintf(&b, "• Found: %s\n", slackEscape(orElse(v.FoundWhere, v.FoundURL)))
	}
	for _, a := range v.Actions {
		fmt.Fprintf(&b, "• %s %s: %s\n", slackEscape(a.Offset), slackEscape(a.Step), slackEscape(a.Outcome))
	}
	s := v.Summary
	if s.Calls > 0 {
		fmt.Fprintf(&b, "• Activity: %d calls, %d allowed, %d denied, from %d IP(s)", s.Calls, s.Allowed, s.Denied, len(s.SourceIPs))
		if len(s.Succeeded) > 0 {
			fmt.Fprintf(&b, "; *succeeded:* %s", slackEscape(strings.Join(s.Succeeded, ", ")))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("• Activity: none recorded")
		if v.ActivityNote != "" {
			fmt.Fprintf(&b, " (%s)", slackEscape(v.ActivityNote))
		}
		b.WriteString("\n")
	}
	if v.Temporary {
		b.WriteString("Next: find and fix the source of the leak, check CloudTrail and created resources, review billing, then `leakguard aws release " + slackEscape(v.KeyArg) + "`.")
	} else {
		b.WriteString("Next: rotate and delete the key, check CloudTrail and created resources, review billing, then `leakguard aws release " + slackEscape(v.KeyArg) + "`.")
	}
	if v.DashboardURL != "" && safeLink(v.DashboardURL) {
		fmt.Fprintf(&b, "\n<%s|Incident %s>", slackEscape(v.DashboardURL), slackEscape(v.ID))
	} else if v.ID != "" {
		fmt.Fprintf(&b, "\nIncident %s", slackEscape(v.ID))
	}
	return b.String()
}

// slackEscape escapes the three characters Slack's mrkdwn treats as
// control sequences, so incident text cannot form links or mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// safeLink reports whether s is an http(s) URL fit for a Slack link.
func safeLink(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && !strings.Contains(s, "|")
}

func orElse(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}
