// Package dashboard is LeakGuard's web dashboard: the list of incidents
// with the headline response times, each incident's page with its timeline
// drawn to scale and the attacker activity CloudTrail recorded, and a small
// JSON API. It is served by the leakguard binary itself: the templates and
// the stylesheet are embedded, and the pages need no JavaScript.
//
// Every page but the login form needs a session: a cookie signed with
// HMAC-SHA256 that names the user and when the session expires. Forms that
// change something carry a CSRF token bound to the session.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/incident"
)

// ErrNotFound is what a Source returns, possibly wrapped, for an incident
// ID it does not know.
var ErrNotFound = errors.New("incident not found")

// Source is where the dashboard reads incidents from and records their
// resolution: the incident store of the server.
type Source interface {
	// List returns the incidents f selects, newest first.
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
	// Get returns one incident, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (incident.Incident, error)
	// Stats returns the headline figures.
	Stats(ctx context.Context) (incident.Stats, error)
	// Resolve marks an incident resolved by actor (a dashboard user), or
	// returns an error wrapping ErrNotFound.
	Resolve(ctx context.Context, id, actor string) error
}

// minKeyLen is the shortest session key New accepts.
const minKeyLen = 32

// Config configures the dashboard.
type Config struct {
	// Source provides the incidents. Required.
	Source Source
	// Users maps each username to its password. The passwords are compared
	// in constant time; the server reads them from the environment.
	// Required, and no password may be empty.
	Users map[string]string
	// SessionKey is the HMAC key that signs session cookies and CSRF tokens,
	// at least 32 bytes. Changing it ends every session.
	SessionKey []byte
	// Secure sets the Secure flag (and the __Host- name prefix) on cookies;
	// set it whenever the dashboard is served over HTTPS.
	Secure bool
	// Now is the clock; the default is time.Now.
	Now func() time.Time
	// Logger receives errors and sign-in events; the default is
	// slog.Default().
	Logger *slog.Logger
	// Title is shown in the header and the page titles; the default is
	// "LeakGuard".
	Title string
}

// New returns the dashboard's handler, to be mounted at the root of its
// own host (the session cookie has Path=/).
func New(cfg Config) (http.Handler, error) {
	if cfg.Source == nil {
		return nil, errors.New("dashboard: no Source")
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("dashboard: no users")
	}
	if len(cfg.SessionKey) < minKeyLen {
		return nil, fmt.Errorf("dashboard: session key has %d bytes, want at least %d", len(cfg.SessionKey), minKeyLen)
	}
	users := make(map[string][32]byte, len(cfg.Users))
	for name, password := range cfg.Users {
		if name == "" || password == "" {
			return nil, fmt.Errorf("dashboard: user %q: empty username or password", name)
		}
		users[name] = hashPassword(password)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Title == "" {
		cfg.Title = "LeakGuard"
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	static, err := staticHandler()
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	s := &server{
		src:    cfg.Source,
		log:    cfg.Logger,
		title:  cfg.Title,
		tmpl:   tmpl,
		auth:   newAuthenticator(cfg.SessionKey, users, cfg.Secure, cfg.Now),
		static: static,
		limit:  newThrottle(cfg.Now),
	}
	return s.routes(), nil
}

// server holds what the handlers share.
type server struct {
	src    Source
	log    *slog.Logger
	title  string
	tmpl   templates
	auth   *authenticator
	static http.Handler
	limit  *throttle // failed sign-ins
}

// routes builds the handler tree: public login and static files, the rest
// behind a session.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.requireSession(s.logout))

	mux.Handle("GET /{$}", s.requireSession(s.listPage))
	mux.Handle("GET /incidents/{id}", s.requireSession(s.incidentPage))
	mux.Handle("POST /incidents/{id}/resolve", s.requireSession(s.resolve))

	mux.Handle("GET /api/incidents", s.requireSession(s.apiList))
	mux.Handle("GET /api/incidents/{id}", s.requireSession(s.apiIncident))
	mux.Handle("GET /api/stats", s.requireSession(s.apiStats))
	mux.Handle("/api/", s.requireSession(s.apiNotFound))
	mux.Handle("/", s.requireSession(s.notFoundPage))

	// Tokens are the CSRF defence; refusing cross-origin form posts by
	// Sec-Fetch-Site and Origin is a second one that costs nothing.
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders sets the headers every response carries. The pages need
// no script, so the policy allows none.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
