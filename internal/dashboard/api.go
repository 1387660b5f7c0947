package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
	"github.com/leakguard/leakguard/internal/incident"
)

// The API's shapes are its own, not incident.Incident's: the list is a
// summary per incident, and a new field of the model reaches the API only
// when it is added here.

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

// apiList is the body of GET /api/incidents.
type apiList struct {
	Incidents []apiSummary `json:"incidents"`
	Count     int          `json:"count"`
	Limit     int          `json:"limit"`
}

// apiSummary is one incident of the list.
type apiSummary struct {
	ID               string         `json:"id"`
	State            incident.State `json:"state"`
	Title            string         `json:"title"`
	Redacted         string         `json:"redacted"`
	KeyID            string         `json:"key_id,omitempty"`
	Account          string         `json:"account,omitempty"`
	Repository       string         `json:"repository,omitempty"`
	Detected         time.Time      `json:"detected"`
	ContainedSeconds *float64       `json:"contained_seconds"` // from the push; null when not contained
	NotifiedSeconds  *float64       `json:"notified_seconds"`
	Created          time.Time      `json:"created"`
	Updated          time.Time      `json:"updated"`
}

// apiIncident is the body of GET /api/incidents/{id}.
type apiIncident struct {
	ID              string              `json:"id"`
	Fingerprint     string              `json:"fingerprint"`
	RuleID          string              `json:"rule_id"`
	Title           string              `json:"title"`
	Redacted        string              `json:"redacted"`
	KeyID           string              `json:"key_id,omitempty"`
	Account         string              `json:"account,omitempty"`
	Principal       string              `json:"principal,omitempty"`
	State           incident.State      `json:"state"`
	Source          string              `json:"source"`
	Created         time.Time           `json:"created"`
	Updated         time.Time           `json:"updated"`
	Locations       []incident.Location `json:"locations"`
	Events          []incident.Event    `json:"events"`
	Seconds         map[string]float64  `json:"seconds"` // first event of each kind, from the push
	Activity        []cloudtrail.Event  `json:"activity"`
	ActivitySummary cloudtrail.Summary  `json:"activity_summary"` // LeakGuard's own checks left out
}

func newAPISummary(inc incident.Incident) apiSummary {
	sec := func(kind string) *float64 {
		if s, ok := inc.Since(kind); ok {
			return &s
		}
		return nil
	}
	return apiSummary{
		ID: inc.ID, State: inc.State, Title: inc.Title, Redacted: inc.Redacted,
		KeyID: inc.KeyID, Account: inc.Account, Repository: firstRepository(inc),
		Detected: detectedAt(inc), ContainedSeconds: sec(incident.ContainedEvent), NotifiedSeconds: sec(incident.Notified),
		Created: inc.Created, Updated: inc.Updated,
	}
}

func newAPIIncident(inc incident.Incident) apiIncident {
	out := apiIncident{
		ID: inc.ID, Fingerprint: inc.Fingerprint, RuleID: inc.RuleID, Title: inc.Title, Redacted: inc.Redacted,
		KeyID: inc.KeyID, Account: inc.Account, Principal: inc.Principal, State: inc.State, Source: inc.Source,
		Created: inc.Created, Updated: inc.Updated,
		Locations: nonNil(inc.Locations), Events: nonNil(sortedEvents(inc.Events)),
		Seconds: map[string]float64{}, Activity: nonNil(inc.Activity),
		ActivitySummary: cloudtrail.Summarize(inc.Activity),
	}
	for _, e := range inc.Events {
		if s, ok := inc.Since(e.Kind); ok {
			out.Seconds[e.Kind] = s
		}
	}
	slices.SortStableFunc(out.Activity, func(a, b cloudtrail.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}

func (s *server) apiList(w http.ResponseWriter, r *http.Request, _ session) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	incs, err := s.src.List(r.Context(), f)
	if err != nil {
		s.apiServerError(w, r, fmt.Errorf("list incidents: %w", err))
		return
	}
	out := apiList{Incidents: []apiSummary{}, Count: len(incs), Limit: effectiveLimit(f)}
	for _, inc := range incs {
		out.Incidents = append(out.Incidents, newAPISummary(inc))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) apiIncident(w http.ResponseWriter, r *http.Request, _ session) {
	inc, err := s.src.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "incident not found"})
		return
	}
	if err != nil {
		s.apiServerError(w, r, fmt.Errorf("get incident: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, newAPIIncident(inc))
}

func (s *server) apiStats(w http.ResponseWriter, r *http.Request, _ session) {
	st, err := s.src.Stats(r.Context())
	if err != nil {
		s.apiServerError(w, r, fmt.Errorf("stats: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) apiNotFound(w http.ResponseWriter, _ *http.Request, _ session) {
	writeJSON(w, http.StatusNotFound, apiError{Error: "no such endpoint"})
}

// apiServerError logs err and answers with a body that says nothing of it.
func (s *server) apiServerError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "dashboard: API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error"})
}

// writeJSON writes v as the response. v is one of the API's types, which
// always encode.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
