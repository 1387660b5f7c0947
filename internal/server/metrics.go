package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/pipeline"
)

// Metrics are the service's Prometheus metrics, in their own registry.
type Metrics struct {
	Registry      *prometheus.Registry
	Pushes        *prometheus.CounterVec
	Rejected      *prometheus.CounterVec
	PartnerAlerts prometheus.Counter
	Incidents     prometheus.Counter
	ScanLatency   prometheus.Histogram // received to detected
	ToContain     prometheus.Histogram // pushed to contained
	ToNotify      prometheus.Histogram // pushed to notified
	Failures      prometheus.Counter
}

// NewMetrics registers the metrics; queue depth and dead jobs are read
// from the pipeline at scrape time.
func NewMetrics(p *pipeline.Pipeline) *Metrics {
	buckets := []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120}
	m := &Metrics{
		Registry:      prometheus.NewRegistry(),
		Pushes:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leakguard_pushes_received_total", Help: "Push webhooks accepted."}, []string{"provider"}),
		Rejected:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leakguard_requests_rejected_total", Help: "Webhooks and alerts rejected (forged, unsigned, replayed, oversized, malformed)."}, []string{"endpoint", "status"}),
		PartnerAlerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "leakguard_partner_alerts_total", Help: "Secret-scanning partner alerts accepted."}),
		Incidents:     prometheus.NewCounter(prometheus.CounterOpts{Name: "leakguard_incidents_total", Help: "New incidents."}),
		ScanLatency:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "leakguard_scan_latency_seconds", Help: "From receiving a push to detecting its secret.", Buckets: buckets}),
		ToContain:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "leakguard_time_to_contain_seconds", Help: "From push to contained key.", Buckets: buckets}),
		ToNotify:      prometheus.NewHistogram(prometheus.HistogramOpts{Name: "leakguard_time_to_notify_seconds", Help: "From push to the owner told.", Buckets: buckets}),
		Failures:      prometheus.NewCounter(prometheus.CounterOpts{Name: "leakguard_response_failures_total", Help: "Response steps that failed (retried by the queue)."}),
	}
	m.Registry.MustRegister(m.Pushes, m.Rejected, m.PartnerAlerts, m.Incidents, m.ScanLatency, m.ToContain, m.ToNotify, m.Failures)
	depth := func(dead bool) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			waiting, d, err := p.QueueDepth(ctx)
			if err != nil {
				return -1
			}
			if dead {
				return float64(d)
			}
			return float64(waiting)
		}
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_queue_depth", Help: "Jobs waiting, running or to retry."}, depth(false)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_dead_jobs", Help: "Jobs that exhausted their retries."}, depth(true)),
		collectors.NewGoCollector(),
	)
	return m
}

// Observe records a timeline event of an incident.
func (m *Metrics) Observe(kind string, inc incident.Incident, at time.Time) {
	switch kind {
	case incident.Detected:
		m.Incidents.Inc()
		if r, ok := inc.At(incident.Received); ok {
			m.ScanLatency.Observe(at.Sub(r).Seconds())
		}
	case incident.ContainedEvent:
		if d, ok := inc.Since(incident.ContainedEvent); ok {
			m.ToContain.Observe(d)
		}
	case incident.Notified:
		if d, ok := inc.Since(incident.Notified); ok {
			m.ToNotify.Observe(d)
		}
	case incident.Failed:
		m.Failures.Inc()
	}
}
