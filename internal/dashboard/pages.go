package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/incident"
)

// states are the values of the state filter, in the order of the select.
var states = []incident.State{incident.Open, incident.Contained, incident.Resolved, incident.Released, incident.Dismissed}

// maxParam bounds the length of a filter parameter.
const maxParam = 256

// maxLimit bounds the limit parameter of the API.
const maxLimit = 1000

// parseFilter maps the query parameters state, repo, q and limit to a
// Filter.
func parseFilter(q url.Values) (incident.Filter, error) {
	f := incident.Filter{
		State:      incident.State(strings.TrimSpace(q.Get("state"))),
		Repository: strings.TrimSpace(q.Get("repo")),
		Query:      strings.TrimSpace(q.Get("q")),
	}
	if f.State != "" && !slices.Contains(states, f.State) {
		return f, fmt.Errorf("unknown state %q", f.State)
	}
	if len(f.Repository) > maxParam || len(f.Query) > maxParam {
		return f, fmt.Errorf("filter longer than %d bytes", maxParam)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return f, fmt.Errorf("limit must be 1 to %d", maxLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// effectiveLimit is the limit a Source applies to f.
func effectiveLimit(f incident.Filter) int {
	if f.Limit == 0 {
		return 100
	}
	return f.Limit
}

// listData fills the list page.
type listData struct {
	Stats     incident.Stats
	Filter    incident.Filter
	States    []incident.State
	Rows      []listRow
	Truncated bool // the list reached the limit
	Limit     int
}

// listRow is one incident of the list.
type listRow struct {
	ID, State, Title, Redacted, KeyID, Account, Repository string
	Detected                                               time.Time
	Contain                                                string // seconds push→contained, or ""
}

func (s *server) listPage(w http.ResponseWriter, r *http.Request, sess session) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		s.errorPage(w, r, sess, http.StatusBadRequest, "Bad filter: "+err.Error()+".")
		return
	}
	stats, err := s.src.Stats(r.Context())
	if err != nil {
		s.serverError(w, r, fmt.Errorf("stats: %w", err))
		return
	}
	incs, err := s.src.List(r.Context(), f)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("list incidents: %w", err))
		return
	}
	d := listData{Stats: stats, Filter: f, States: states, Limit: effectiveLimit(f)}
	d.Truncated = len(incs) >= d.Limit
	for _, inc := range incs {
		d.Rows = append(d.Rows, newListRow(inc))
	}
	s.render(w, r, http.StatusOK, "list", view{User: sess.User, CSRF: sess.CSRF, Heading: "Incidents", Data: d})
}

func newListRow(inc incident.Incident) listRow {
	row := listRow{
		ID: inc.ID, State: string(inc.State), Title: inc.Title, Redacted: inc.Redacted,
		KeyID: inc.KeyID, Account: inc.Account, Repository: firstRepository(inc),
		Detected: detectedAt(inc),
	}
	if sec, ok := inc.Since(incident.ContainedEvent); ok {
		row.Contain = formatSeconds(sec) + " s"
	}
	return row
}

func firstRepository(inc incident.Incident) string {
	if len(inc.Locations) == 0 {
		return ""
	}
	return inc.Locations[0].Repository
}

// detectedAt is when the secret was detected, or the incident created.
func detectedAt(inc incident.Incident) time.Time {
	if t, ok := inc.At(incident.Detected); ok {
		return t
	}
	return inc.Created
}

// incidentData fills the incident page.
type incidentData struct {
	Inc        incident.Incident
	From       string // "push" or "reception": what the offsets count from
	Figures    []figure
	Locations  []locationRow
	Timeline   *timeline // nil without a start
	Events     []eventRow
	Activity   []activityRow
	Summary    cloudtrail.Summary
	FirstCall  string // offset of the attacker's first call, or ""
	SelfCalls  int
	Resolvable bool
}

// figure is one headline number of the incident page.
type figure struct {
	Label, Value, Class string
}

type locationRow struct {
	Repository, Commit, Path, URL, Author string
	Time                                  time.Time
}

type eventRow struct {
	At             time.Time
	Offset         string
	Kind, Detail   string
	Failed, Attack bool
}

type activityRow struct {
	Time                              time.Time
	Offset                            string
	Call, Region, SourceIP, UserAgent string
	Outcome, OutcomeClass, ErrorMsg   string
	Self                              bool
}

func (s *server) incidentPage(w http.ResponseWriter, r *http.Request, sess session) {
	inc, err := s.src.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "There is no incident with this ID.")
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("get incident: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, "incident", view{
		User: sess.User, CSRF: sess.CSRF, Heading: inc.Title + " · " + inc.ID, Data: newIncidentData(inc),
	})
}

// start returns the time offsets count from: the push or, failing that,
// the reception (as incident.Since does).
func start(inc incident.Incident) (time.Time, string, bool) {
	if t, ok := inc.At(incident.Pushed); ok {
		return t, "push", true
	}
	if t, ok := inc.At(incident.Received); ok {
		return t, "reception", true
	}
	return time.Time{}, "", false
}

func newIncidentData(inc incident.Incident) incidentData {
	d := incidentData{Inc: inc, Resolvable: inc.State == incident.Open || inc.State == incident.Contained}
	t0, from, hasStart := start(inc)
	d.From = from
	offset := func(t time.Time) string {
		if !hasStart {
			return ""
		}
		return formatOffset(t.Sub(t0).Seconds())
	}

	for _, k := range []struct{ kind, label, class string }{
		{incident.Detected, "detected", ""},
		{incident.ContainedEvent, "contained", "good"},
		{incident.Notified, "owner notified", ""},
		{incident.FirstAttackerCall, "first attacker call", "bad"},
	} {
		if sec, ok := inc.Since(k.kind); ok {
			d.Figures = append(d.Figures, figure{Label: k.label, Value: formatOffset(sec), Class: k.class})
		}
	}

	for _, l := range inc.Locations {
		row := locationRow{Repository: l.Repository, Commit: l.Commit, Path: l.Path, Author: l.Author, Time: l.Time}
		if l.Line > 0 {
			row.Path += ":" + strconv.Itoa(l.Line)
		}
		if safeLink(l.URL) {
			row.URL = l.URL
		}
		d.Locations = append(d.Locations, row)
	}

	events := slices.Clone(inc.Events)
	slices.SortStableFunc(events, func(a, b incident.Event) int { return a.At.Compare(b.At) })
	for _, e := range events {
		d.Events = append(d.Events, eventRow{
			At: e.At, Offset: offset(e.At), Kind: e.Kind, Detail: e.Detail,
			Failed: e.Kind == incident.Failed, Attack: e.Kind == incident.FirstAttackerCall,
		})
	}
	if hasStart {
		d.Timeline = newTimeline(inc, t0, from)
	}

	activity := slices.Clone(inc.Activity)
	slices.SortStableFunc(activity, func(a, b cloudtrail.Event) int { return a.Time.Compare(b.Time) })
	for _, e := range activity {
		row := activityRow{
			Time: e.Time, Offset: offset(e.Time), Call: e.Service + ":" + e.Name, Region: e.Region,
			SourceIP: e.SourceIP, UserAgent: e.UserAgent, ErrorMsg: e.ErrorMsg, Self: e.Self(),
		}
		switch {
		case e.ErrorCode == "":
			row.Outcome, row.OutcomeClass = "OK", "ok"
		case e.Denied():
			row.Outcome, row.OutcomeClass = "denied ("+e.ErrorCode+")", "denied"
		default:
			row.Outcome, row.OutcomeClass = e.ErrorCode, "error"
		}
		if row.Self {
			d.SelfCalls++
		}
		d.Activity = append(d.Activity, row)
	}
	d.Summary = cloudtrail.Summarize(activity)
	if hasStart && !d.Summary.First.IsZero() {
		d.FirstCall = offset(d.Summary.First)
	}
	return d
}

// safeLink reports whether u may be a link: absolute http or https only,
// never javascript: or data:.
func safeLink(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

func (s *server) resolve(w http.ResponseWriter, r *http.Request, sess session) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil || !validCSRF(sess, r) {
		s.forbidden(w, r, sess)
		return
	}
	id := r.PathValue("id")
	err := s.src.Resolve(r.Context(), id, sess.User)
	if errors.Is(err, ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "There is no incident with this ID.")
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("resolve incident %s: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "dashboard: incident resolved", "incident", id, "user", sess.User)
	http.Redirect(w, r, incidentURL(id), http.StatusSeeOther)
}
