package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/dashboard"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/partner"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/pushhook"
	"github.com/leakguard/leakguard/internal/respond"
	"github.com/leakguard/leakguard/internal/rules"
	"github.com/leakguard/leakguard/internal/server"
	"github.com/leakguard/leakguard/internal/watch"
)

const serveUsage = `leakguard serve: watch pushes, receive alerts, contain leaked keys, show incidents.

Usage:
  leakguard serve --config FILE

Examples:
  LEAKGUARD_WEBHOOK_SECRET=... LEAKGUARD_DASHBOARD_USERS=alice:pw leakguard serve --config /etc/leakguard/leakguard.toml

Endpoints:
  POST /hooks/push        GitHub or Gitea push webhooks (X-Hub-Signature-256)
  POST /partner/alerts    GitHub secret-scanning partner alerts (ECDSA-signed)
  GET  /partner/keys      LeakGuard's own partner signing keys (GitHub's format)
  GET  /healthz /readyz   liveness and readiness
  GET  /metrics           Prometheus metrics
  /                       the dashboard (login required)

The [serve] section of the configuration sets the listen address, the
database (sqlite:PATH, or postgres://… for several nodes sharing the work),
the mirrors directory and the environment variables holding the webhook
secret and dashboard users. See 'leakguard aws --help' for the rest.

Logs are JSON lines on stderr, never with a secret. SIGINT or SIGTERM
finishes running jobs and stops.
`

// serveDeps is a running service, for tests and for serve itself.
type serveDeps struct {
	store    *incident.Store
	pipeline *pipeline.Pipeline
	handler  http.Handler
}

func (a *App) serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { io.WriteString(a.Stderr, serveUsage) }
	cfgPath := fs.String("config", a.getenv("LEAKGUARD_CONFIG"), "configuration file")
	listen := fs.String("listen", "", "listen address (overrides serve.listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := a.loadResponseConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Serve.Listen = *listen
	}
	log := slog.New(slog.NewJSONHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := a.startService(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.store.Close()
	l, err := net.Listen("tcp", cfg.Serve.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: svc.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	log.Info("serving", "addr", l.Addr().String(), "database", strings.SplitN(cfg.Serve.Database, ":", 2)[0])
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	herr := hs.Shutdown(shutdown)
	perr := svc.pipeline.Stop(shutdown)
	return errors.Join(herr, perr)
}

func (a *App) loadResponseConfig(path string) (*respond.Config, error) {
	if path == "" {
		return respond.Parse(strings.NewReader(""))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	cfg, err := respond.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// startService opens the store, starts the pipeline and builds the HTTP
// handler.
func (a *App) startService(ctx context.Context, cfg *respond.Config, log *slog.Logger) (*serveDeps, error) {
	secret := a.getenv(cfg.Serve.WebhookSecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("serve: environment variable %s (the push webhook secret) is empty", cfg.Serve.WebhookSecretEnv)
	}
	users, err := parseUsers(a.getenv(cfg.Serve.DashboardUsersEnv))
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Serve.DashboardUsersEnv, err)
	}
	sessionKey := []byte(a.getenv(cfg.Serve.SessionKeyEnv))
	if cfg.Serve.SessionKeyEnv == "" || len(sessionKey) == 0 {
		sessionKey = make([]byte, 32)
		rand.Read(sessionKey)
	} else if len(sessionKey) < 32 {
		return nil, fmt.Errorf("serve: %s must hold at least 32 bytes", cfg.Serve.SessionKeyEnv)
	}
	store, err := incident.OpenStore(ctx, cfg.Serve.Database)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*serveDeps, error) {
		store.Close()
		return nil, err
	}
	catalogue, err := rules.Default()
	if err != nil {
		return fail(err)
	}
	eng, err := detect.New(catalogue, detect.DefaultOptions())
	if err != nil {
		return fail(err)
	}
	pb, err := cfg.Playbook(ctx, respond.Deps{
		Getenv: a.getenv, Audit: store.AuditLog(), Actor: "leakguard serve", Version: a.Version, Logger: log,
		History:    func(id string) ([]audit.Entry, error) { return store.Audit(context.WithoutCancel(ctx), id) },
		HTTPClient: a.HTTPClient, SMTPTLS: a.SMTPTLS, AWS: a.AWSConfig,
	})
	if err != nil {
		return fail(err)
	}
	var signer *partner.Signer
	if cfg.Serve.PartnerKeyFile != "" {
		key, err := partner.LoadOrCreateKey(cfg.Serve.PartnerKeyFile)
		if err != nil {
			return fail(err)
		}
		sg := partner.NewSigner(key)
		signer = &sg
	}
	var partners []pipeline.Partner
	for _, pc := range cfg.Serve.Partners {
		partners = append(partners, pipeline.Partner{Providers: pc.Providers, Sender: &partner.Sender{Endpoint: pc.Endpoint, Signer: *signer, Client: a.HTTPClient}})
	}
	var metrics *server.Metrics
	p, err := pipeline.New(ctx, pipeline.Deps{
		Partners: partners, Allow: cfg.Serve.AllowFingerprints, AllowLocalRemotes: cfg.Serve.AllowLocalRemotes,
		Store: store, Engine: eng, MirrorDir: cfg.Serve.Mirrors, Logger: log, Workers: cfg.Serve.Workers,
		JobTimeout: cfg.Serve.JobTimeout.Duration,
		Playbook:   func(string) (*respond.Playbook, error) { return pb, nil },
		OnEvent: func(kind string, inc incident.Incident, at time.Time) {
			if metrics != nil {
				metrics.Observe(kind, inc, at)
			}
		},
	})
	if err != nil {
		return fail(err)
	}
	metrics = server.NewMetrics(p)
	if err := p.Start(ctx); err != nil {
		return fail(err)
	}
	started := fail
	fail = func(err error) (*serveDeps, error) {
		p.Stop(context.WithoutCancel(ctx))
		return started(err)
	}
	srv := &server.Server{
		Store: store, Pipeline: p, Metrics: metrics, Logger: log,
		Push:  &pushhook.Verifier{Secret: []byte(secret), Replay: pushhook.NewReplayCache(100_000, 24*time.Hour)},
		Ready: func() bool { return true },
	}
	if env := cfg.Serve.MetricsTokenEnv; env != "" {
		if srv.MetricsToken = a.getenv(env); len(srv.MetricsToken) < 16 {
			return fail(fmt.Errorf("serve: %s must hold a token of at least 16 characters", env))
		}
	}
	if env := cfg.Serve.ReportTokenEnv; env != "" {
		if srv.ReportToken = a.getenv(env); len(srv.ReportToken) < 16 {
			return fail(fmt.Errorf("serve: %s must hold a token of at least 16 characters", env))
		}
	}
	if cfg.Serve.PartnerKeysURL != "" {
		srv.Partner = &partner.Receiver{Keys: &partner.KeySource{URL: cfg.Serve.PartnerKeysURL, Client: a.HTTPClient}}
	}
	if signer != nil {
		srv.Keys = signer.KeysHandler()
	}
	if len(cfg.Serve.Watch) > 0 {
		poller := &watch.Poller{Marks: store, Enqueue: p.EnqueueScan, Interval: cfg.Serve.WatchInterval.Duration, Logger: log}
		for _, w := range cfg.Serve.Watch {
			name := w.Name
			if name == "" {
				name = w.URL
			}
			poller.Remotes = append(poller.Remotes, watch.Remote{URL: w.URL, Name: name, HTMLURL: w.HTMLURL})
		}
		go poller.Run(ctx)
	}
	if len(users) > 0 {
		srv.Dashboard, err = dashboard.New(dashboard.Config{
			Source: dashboardSource{store, p}, Users: users, SessionKey: sessionKey, Logger: log, Title: "LeakGuard",
			Secure: cfg.Serve.SecureCookies,
		})
		if err != nil {
			return fail(err)
		}
	} else {
		log.Warn("no dashboard users configured: the dashboard is off", "env", cfg.Serve.DashboardUsersEnv)
	}
	return &serveDeps{store: store, pipeline: p, handler: srv.Handler()}, nil
}

// parseUsers reads "user:password,user:password".
func parseUsers(s string) (map[string]string, error) {
	users := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		u, p, ok := strings.Cut(pair, ":")
		if !ok || u == "" || p == "" {
			return nil, errors.New("want user:password pairs separated by commas")
		}
		users[u] = p
	}
	return users, nil
}

// dashboardSource adapts the store (and the queue's dead jobs) to the
// dashboard.
type dashboardSource struct {
	store *incident.Store
	p     *pipeline.Pipeline
}

func (d dashboardSource) List(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	return d.store.List(ctx, f)
}

func (d dashboardSource) Get(ctx context.Context, id string) (incident.Incident, error) {
	inc, err := d.store.Get(ctx, id)
	if errors.Is(err, incident.ErrNotFound) {
		return inc, fmt.Errorf("%w: %s", dashboard.ErrNotFound, id)
	}
	return inc, err
}

func (d dashboardSource) Stats(ctx context.Context) (incident.Stats, error) {
	st, err := d.store.Stats(ctx)
	if err != nil {
		return st, err
	}
	_, dead, err := d.p.QueueDepth(ctx)
	st.DeadJobs = dead
	return st, err
}

func (d dashboardSource) Resolve(ctx context.Context, id, actor string) error {
	err := d.store.Resolve(ctx, id, actor)
	if errors.Is(err, incident.ErrNotFound) {
		return fmt.Errorf("%w: %s", dashboard.ErrNotFound, id)
	}
	return err
}
