package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the templates that render a whole page; each is parsed with
// the layout.
var pages = []string{"login", "list", "incident", "error"}

// templates maps a page name to its template.
type templates map[string]*template.Template

func parseTemplates() (templates, error) {
	funcs := template.FuncMap{
		"secs":        formatSeconds,
		"offset":      formatOffset,
		"utc":         formatUTC,
		"incidentURL": incidentURL,
		"short":       shortSHA,
		"px":          func(f float64) string { return fmt.Sprintf("%.1f", f) },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	t := make(templates, len(pages))
	for _, name := range pages {
		clone, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone layout for %s: %w", name, err)
		}
		if t[name], err = clone.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
	}
	return t, nil
}

// staticHandler serves the embedded stylesheet under /static/.
func staticHandler() (http.Handler, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})), nil
}

// view is what every page template gets.
type view struct {
	App     string // the dashboard's title
	User    string // signed-in user; empty on the login page
	CSRF    string // token for the page's POST forms
	Heading string // the page's title
	Data    any    // the page's own data
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 and not half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.App = s.title
	var buf bytes.Buffer
	if err := s.tmpl[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "dashboard: render page", "page", page, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorData fills the error page.
type errorData struct {
	Status  int
	Message string
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, sess session, status int, msg string) {
	s.render(w, r, status, "error", view{User: sess.User, CSRF: sess.CSRF, Heading: http.StatusText(status),
		Data: errorData{Status: status, Message: msg}})
}

// serverError logs err and shows a page that says nothing about it.
func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "dashboard: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	sess, _ := s.auth.verify(r)
	s.errorPage(w, r, sess, http.StatusInternalServerError, "Something went wrong. The error has been logged.")
}

func (s *server) forbidden(w http.ResponseWriter, r *http.Request, sess session) {
	s.errorPage(w, r, sess, http.StatusForbidden, "The form expired or did not come from this dashboard. Reload the page and try again.")
}

func (s *server) notFoundPage(w http.ResponseWriter, r *http.Request, sess session) {
	s.errorPage(w, r, sess, http.StatusNotFound, "There is no such page.")
}

// formatSeconds formats a duration in seconds with the precision a reader
// needs: 0.84, 13.0, 116.
func formatSeconds(sec float64) string {
	switch a := math.Abs(sec); {
	case a < 10:
		return fmt.Sprintf("%.2f", sec)
	case a < 100:
		return fmt.Sprintf("%.1f", sec)
	default:
		return fmt.Sprintf("%.0f", sec)
	}
}

// formatOffset formats seconds from the push: "+0.84 s".
func formatOffset(sec float64) string {
	s := formatSeconds(sec)
	if sec >= 0 {
		s = "+" + s
	}
	return s + " s"
}

// formatUTC formats a time for the tables, or "—" for none.
func formatUTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

// incidentURL is the path of an incident's page.
func incidentURL(id string) string { return "/incidents/" + url.PathEscape(id) }

// shortSHA shortens a commit ID the way GitHub shows it.
func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
