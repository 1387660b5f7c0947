package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	"text/tabwriter"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/cloudtrail"
)

//go:embed templates
var templateFS embed.FS

// Email is a rendered notification.
type Email struct {
	Subject string
	Text    string // text/plain body
	HTML    string // text/html body
}

// maxActivityRows bounds the activity table; the summary still counts
// every call.
const maxActivityRows = 50

const timeLayout = "2006-01-02 15:04:05 UTC"

// Render builds the owner's email for an incident. Every value from the
// incident is reduced to one line of text; the HTML part escapes it.
func Render(inc Incident) (Email, error) {
	if inc.KeyID == "" || inc.Account == "" {
		return Email{}, errors.New("render notification: incident has no key ID or account")
	}
	v := newView(inc)
	txt, err := texttemplate.New("email.txt.tmpl").Funcs(texttemplate.FuncMap{"join": strings.Join, "wrap": wrap}).ParseFS(templateFS, "templates/email.txt.tmpl")
	if err != nil {
		return Email{}, fmt.Errorf("render notification: %w", err)
	}
	html, err := htmltemplate.New("email.html.tmpl").Funcs(htmltemplate.FuncMap{"join": strings.Join}).ParseFS(templateFS, "templates/email.html.tmpl")
	if err != nil {
		return Email{}, fmt.Errorf("render notification: %w", err)
	}
	var tb, hb bytes.Buffer
	if err := txt.Execute(&tb, v); err != nil {
		return Email{}, fmt.Errorf("render notification text: %w", err)
	}
	if err := html.Execute(&hb, v); err != nil {
		return Email{}, fmt.Errorf("render notification html: %w", err)
	}
	return Email{Subject: v.Subject, Text: tb.String(), HTML: hb.String()}, nil
}

// view is what the templates see: every string is one line, times are
// formatted, and derived facts are precomputed.
type view struct {
	Subject      string
	ID           string
	KeyID        string
	Temporary    bool
	Account      string
	AccountName  string
	UserName     string
	PrincipalARN string
	Live         string
	FoundURL     string
	FoundWhere   string
	DetectedAt   string
	Policy       string
	PolicyText   string
	Actions      []actionView
	ActionsTable string // aligned plain-text table
	Failed       bool   // some containment step failed or was refused
	Contained    bool   // some containment step is done or already in place
	Activity     []eventView
	ActivityMore int // events left out of the table
	ActivityTbl  string
	ActivityNote string
	Summary      summaryView
	DashboardURL string

	// Ready-to-paste commands for the owner's steps.
	UserArg       string   // shell-safe user name, or a placeholder
	KeyArg        string   // shell-safe key ID
	LookupRegions []string // us-east-1 (global services), then every region the key was used in
}

type actionView struct {
	Time, Offset, Step, Outcome, Detail string
	Failed                              bool
}

type eventView struct {
	Time, Call, Region, SourceIP, UserAgent, Outcome string
	Allowed                                          bool
}

type summaryView struct {
	Calls, Denied, Allowed, Failed int
	First, Last                    string
	SourceIPs                      []string
	Succeeded                      []string
}

func newView(inc Incident) view {
	v := view{
		ID:           oneLine(inc.ID),
		KeyID:        oneLine(inc.KeyID),
		Temporary:    inc.Temporary(),
		Account:      oneLine(inc.Account),
		AccountName:  oneLine(inc.AccountName),
		UserName:     oneLine(inc.UserName),
		PrincipalARN: oneLine(inc.PrincipalARN),
		Live:         liveText(oneLine(inc.Live)),
		FoundURL:     oneLine(inc.FoundURL),
		FoundWhere:   oneLine(inc.FoundWhere),
		DetectedAt:   formatTime(inc.DetectedAt),
		Policy:       oneLine(inc.Policy),
		ActivityNote: oneLine(inc.ActivityNote),
		DashboardURL: oneLine(inc.DashboardURL),
		KeyArg:       shellArg(inc.KeyID, "ACCESS_KEY_ID"),
	}
	v.PolicyText = policyText(inc.Policy, v.UserName, v.Temporary)
	if v.Temporary {
		v.UserArg = shellArg(inc.UserName, "ROLE_NAME")
	} else {
		v.UserArg = shellArg(inc.UserName, "USER_NAME")
	}
	for _, a := range inc.Actions {
		av := actionView{
			Time:    formatTime(a.Time),
			Offset:  offset(inc.DetectedAt, a.Time),
			Step:    oneLine(a.Step),
			Outcome: oneLine(a.Outcome),
			Detail:  oneLine(a.Detail),
			Failed:  a.Outcome == "failed" || a.Outcome == "refused",
		}
		v.Failed = v.Failed || av.Failed
		v.Contained = v.Contained || a.Outcome == "done" || a.Outcome == "already in place"
		v.Actions = append(v.Actions, av)
	}
	v.ActionsTable = actionsTable(v.Actions)
	events := inc.Activity
	if len(events) > maxActivityRows {
		v.ActivityMore = len(events) - maxActivityRows
		events = events[:maxActivityRows]
	}
	v.LookupRegions = []string{"us-east-1"}
	seen := map[string]bool{"us-east-1": true}
	for _, e := range inc.Activity {
		if r := shellArg(e.Region, ""); r != "" && !seen[r] {
			seen[r] = true
			v.LookupRegions = append(v.LookupRegions, r)
		}
	}
	for _, e := range events {
		v.Activity = append(v.Activity, eventView{
			Time:      formatTime(e.Time),
			Call:      oneLine(e.Service) + ":" + oneLine(e.Name),
			Region:    oneLine(e.Region),
			SourceIP:  oneLine(e.SourceIP),
			UserAgent: truncate(oneLine(e.UserAgent), 80),
			Outcome:   outcome(e),
			Allowed:   e.ErrorCode == "",
		})
	}
	v.ActivityTbl = activityTable(v.Activity)
	s := inc.Summary
	v.Summary = summaryView{
		Calls: s.Calls, Denied: s.Denied, Allowed: s.Allowed, Failed: s.Failed,
		First: formatTime(s.First), Last: formatTime(s.Last),
		SourceIPs: oneLines(s.SourceIPs), Succeeded: oneLines(s.Succeeded),
	}
	v.Subject = subject(v)
	return v
}

func subject(v view) string {
	acct := v.Account
	if v.AccountName != "" {
		acct += " (" + v.AccountName + ")"
	}
	var what string
	switch {
	case v.Failed:
		what = "LeakGuard containment incomplete"
	case !v.Contained:
		what = "not yet contained"
	default:
		switch v.Policy {
		case "quarantine":
			what = "quarantined by LeakGuard"
		case "deactivate":
			what = "deactivated by LeakGuard"
		case "deny-all":
			what = "all actions denied by LeakGuard"
		case "revoke-sessions":
			what = "sessions revoked by LeakGuard"
		default:
			what = "contained by LeakGuard"
		}
	}
	return "ACTION REQUIRED: Your AWS Access Key is Exposed for AWS Account " + acct + " - " + what
}

func policyText(policy, user string, temporary bool) string {
	who := "the key's IAM user"
	if user != "" {
		who = "IAM user " + user
	}
	if temporary {
		who = "the key's role"
		if user != "" {
			who = "role " + user
		}
	}
	switch policy {
	case "quarantine":
		return "LeakGuard attached the AWS managed quarantine policy (AWSCompromisedKeyQuarantineV3, or V2 where V3 is unavailable) to " + who +
			". It denies the actions most abused with leaked keys, such as creating IAM users and access keys, launching EC2 instances and creating Lambda functions. " +
			"The key itself is still active: whatever the quarantine policy does not deny, it can still do."
	case "deactivate":
		return "LeakGuard quarantined " + who + ", set the access key to Inactive and revoked sessions the user obtained before containment. " +
			"Every request signed with the key now fails, including those of your own applications that still use it."
	case "deny-all":
		return "LeakGuard attached an inline policy to " + who + " that denies every action. " +
			"Every request made as this user now fails, whichever of its keys signed it, until the policy is removed."
	case "revoke-sessions":
		return "LeakGuard revoked the sessions of " + who + ": an inline policy on the role denies every action to any session issued before the revocation, " +
			"which includes the leaked temporary credentials. Sessions issued after it are unaffected, so workloads that assume the role again get working credentials."
	case "":
		if temporary {
			return "No containment policy was recorded for this temporary key."
		}
		return "No containment policy was recorded for this key."
	}
	return "LeakGuard applied the containment policy " + policy + "."
}

func liveText(live string) string {
	switch live {
	case "live":
		return "live: the key was valid when LeakGuard checked it"
	case "not live":
		return "not live: AWS rejected the key when LeakGuard checked it"
	case "not checked", "":
		return "not checked: LeakGuard did not test the key; treat it as valid"
	}
	return live
}

func outcome(e cloudtrail.Event) string {
	switch {
	case e.ErrorCode == "":
		return "allowed"
	case e.Denied():
		return "denied (" + oneLine(e.ErrorCode) + ")"
	}
	return "failed (" + oneLine(e.ErrorCode) + ")"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// offset is the whole seconds from detection to t, signed.
func offset(detected, t time.Time) string {
	if detected.IsZero() || t.IsZero() {
		return ""
	}
	s := int64(t.Sub(detected).Truncate(time.Second) / time.Second)
	if s >= 0 {
		return fmt.Sprintf("+%ds", s)
	}
	return fmt.Sprintf("%ds", s)
}

func actionsTable(actions []actionView) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, a := range actions {
		detail := a.Outcome
		if a.Failed {
			detail = strings.ToUpper(a.Outcome)
		}
		if a.Detail != "" {
			detail += " (" + a.Detail + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", a.Time, a.Offset, a.Step, detail)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func activityTable(events []eventView) string {
	if len(events) == 0 {
		return ""
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "  Time (UTC)\tCall\tRegion\tSource IP\tUser agent\tOutcome\n")
	for _, e := range events {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimSuffix(e.Time, " UTC"), e.Call, e.Region, e.SourceIP, truncate(e.UserAgent, 40), e.Outcome)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// oneLine makes s safe to print on one line: control characters
// (including CR, LF and tab, which would forge lines or break the table)
// become spaces and invalid UTF-8 becomes U+FFFD.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, isControl) < 0 {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

func oneLines(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, oneLine(s))
	}
	return out
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_+=,.@/-]+$`)

// shellArg quotes s for a POSIX shell so a pasted command does exactly
// what it says; an empty s becomes the placeholder.
func shellArg(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	s = oneLine(s)
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// wrap breaks s into lines of at most width columns where it can, each
// after the first indented by indent spaces.
func wrap(indent, width int, s string) string {
	var b strings.Builder
	col := indent
	for i, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		if i > 0 {
			if col+1+n > width {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				col = indent
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}
