// Package server is `leakguard serve`'s HTTP side: authenticated intake of
// push webhooks and secret-scanning partner alerts, the partner keys
// document, health and readiness, Prometheus metrics and the dashboard.
// Intake only records work in the durable pipeline and answers; the
// pipeline's workers do the rest.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/partner"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/pushhook"
)

// Server holds what the handlers need.
type Server struct {
	Store    *incident.Store
	Pipeline *pipeline.Pipeline
	Push     *pushhook.Verifier
	// Partner receives GitHub-format partner alerts; nil disables the
	// endpoint.
	Partner *partner.Receiver
	// Keys serves LeakGuard's own partner keys document; nil disables it.
	Keys      http.Handler
	Dashboard http.Handler // mounted at /; nil: none
	Metrics   *Metrics
	Logger    *slog.Logger
	Now       func() time.Time
	// Ready reports whether the pipeline is working jobs.
	Ready func() bool
	// ReportToken authenticates scanners posting findings (Bearer); empty
	// disables /api/findings.
	ReportToken string
	// MetricsToken, when set, is required (Bearer) to scrape /metrics.
	MetricsToken string
}

// FindingsReport is what `leakguard scan --report-to` posts: findings
// without any plaintext secret.
type FindingsReport struct {
	Repository string              `json:"repository"`
	Findings   []pipeline.Reported `json:"findings"`
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Handler routes the server's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/push", s.push)
	if s.Partner != nil {
		mux.HandleFunc("POST /partner/alerts", s.partnerAlerts)
	}
	if s.ReportToken != "" {
		mux.HandleFunc("POST /api/findings", s.findings)
	}
	if s.Keys != nil {
		mux.Handle("GET /partner/keys", s.Keys)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		metrics := promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			if s.MetricsToken != "" && !bearer(r, s.MetricsToken) {
				s.reject(w, r, "metrics", http.StatusUnauthorized, errors.New("missing or wrong metrics token"))
				return
			}
			metrics.ServeHTTP(w, r)
		})
	}
	if s.Dashboard != nil {
		mux.Handle("/", s.Dashboard)
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.DB().PingContext(ctx); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.Ready != nil && !s.Ready() {
		http.Error(w, "pipeline not started", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request, endpoint string, status int, err error) {
	s.Logger.Warn("request rejected", "endpoint", endpoint, "status", status, "remote", r.RemoteAddr, "err", err)
	if s.Metrics != nil {
		s.Metrics.Rejected.WithLabelValues(endpoint, http.StatusText(status)).Inc()
	}
	http.Error(w, http.StatusText(status), status)
}

// push accepts a signed push webhook and records a scan job.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	p, err := s.Push.Parse(r)
	if errors.Is(err, pushhook.ErrPing) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		s.reject(w, r, "push", pushhook.StatusFor(err), err)
		return
	}
	if s.Metrics != nil {
		s.Metrics.Pushes.WithLabelValues(p.Provider).Inc()
	}
	if p.Deleted {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	received := p.ReceivedAt
	if received.IsZero() {
		received = s.now()
	}
	pushed := received
	if !p.PushedAt.IsZero() && !p.PushedAt.After(received) {
		pushed = p.PushedAt
	}
	args := pipeline.ScanArgs{
		CloneURL: p.Repository.CloneURL, Repository: p.Repository.FullName, HTMLURL: p.Repository.HTMLURL,
		Ref: p.Ref, Before: p.Before, After: p.After, PushedAt: pushed.UTC(), ReceivedAt: received.UTC(), Source: "push",
	}
	if args.CloneURL == "" {
		s.reject(w, r, "push", http.StatusBadRequest, errors.New("push names no clone URL"))
		return
	}
	// The push is recorded even if the sender hangs up meanwhile; if it
	// cannot be, the delivery is forgotten so that a redelivery is taken.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := s.Pipeline.EnqueueScan(ctx, args); err != nil {
		s.Push.Forget(p)
		s.Logger.Error("enqueue scan", "repository", args.Repository, "err", err)
		http.Error(w, "could not record the push", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// partnerAlerts accepts a signed batch of secret-scanning alerts, records
// each as an incident (containing AWS keys), and answers with the labels
// GitHub accepts as feedback.
func (s *Server) partnerAlerts(w http.ResponseWriter, r *http.Request) {
	alerts, err := s.Partner.Parse(r)
	if err != nil {
		s.reject(w, r, "partner", partner.StatusFor(err), err)
		return
	}
	received := s.now()
	labels := make([]partner.Label, 0, len(alerts))
	for _, a := range alerts {
		tp, err := s.Pipeline.RecordAlert(r.Context(), pipeline.Alert{Token: a.Token, Type: a.Type, URL: a.URL, Source: a.Source, ReceivedAt: received})
		if err != nil {
			s.Logger.Error("record partner alert", "type", a.Type, "err", err)
			http.Error(w, "could not record the alerts", http.StatusServiceUnavailable)
			return
		}
		labels = append(labels, partner.LabelFor(a, tp))
	}
	if s.Metrics != nil {
		s.Metrics.PartnerAlerts.Add(float64(len(alerts)))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(labels)
}

// findings accepts findings posted by scanners with the report token.
func (s *Server) findings(w http.ResponseWriter, r *http.Request) {
	if !bearer(r, s.ReportToken) {
		s.reject(w, r, "findings", http.StatusUnauthorized, errors.New("missing or wrong report token"))
		return
	}
	var rep FindingsReport
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20))
	if err := dec.Decode(&rep); err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		s.reject(w, r, "findings", status, fmt.Errorf("findings report: %w", err))
		return
	}
	received := s.now()
	var ids []string
	for _, f := range rep.Findings {
		id, err := s.Pipeline.RecordReported(r.Context(), rep.Repository, f, received)
		if err != nil {
			s.Logger.Error("record reported finding", "rule", f.RuleID, "err", err)
			http.Error(w, "could not record the findings", http.StatusServiceUnavailable)
			return
		}
		ids = append(ids, id)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]any{"incidents": ids})
}

// bearer reports whether r carries the token, compared in constant time.
func bearer(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
