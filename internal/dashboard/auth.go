package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// loginTTL is how long a login form stays valid.
const loginTTL = time.Hour

// MAC labels keep the uses of the session key apart: a value signed for
// one can never pass for another.
const (
	labelSession   = "leakguard/dashboard/session/v1"
	labelCSRF      = "leakguard/dashboard/csrf/v1"
	labelLoginForm = "leakguard/dashboard/login/v1"
)

// Errors a session cookie is rejected with; they are logged at debug level
// only, the user just sees the login form.
var (
	errNoSession  = errors.New("no session cookie")
	errBadSession = errors.New("malformed session cookie")
	errBadMAC     = errors.New("session cookie signature mismatch")
	errExpired    = errors.New("session expired")
	errNoUser     = errors.New("session user no longer configured")
)

// session is a signed-in user.
type session struct {
	User string
	CSRF string // token the session's forms must carry
}

// sessionPayload is what the session cookie carries, signed.
type sessionPayload struct {
	User    string `json:"u"`
	Expires int64  `json:"e"` // Unix seconds
	Nonce   string `json:"n"` // random, the seed of the CSRF token
}

// authenticator checks passwords and issues and verifies the cookies.
type authenticator struct {
	key         []byte
	users       map[string][32]byte // username -> SHA-256 of the password
	secure      bool
	now         func() time.Time
	sessionName string
	loginName   string
}

func newAuthenticator(key []byte, users map[string][32]byte, secure bool, now func() time.Time) *authenticator {
	a := &authenticator{
		key:         append([]byte(nil), key...),
		users:       users,
		secure:      secure,
		now:         now,
		sessionName: "leakguard_session",
		loginName:   "leakguard_login",
	}
	if secure {
		// Browsers only accept __Host- cookies that are Secure, have
		// Path=/ and no Domain: no sibling host can overwrite them.
		a.sessionName = "__Host-" + a.sessionName
		a.loginName = "__Host-" + a.loginName
	}
	return a
}

// hashPassword makes passwords of any length comparable in constant time.
func hashPassword(p string) [32]byte { return sha256.Sum256([]byte(p)) }

// checkPassword reports whether the user exists and the password is
// theirs. The time it takes depends on neither the password nor whether
// the user exists.
func (a *authenticator) checkPassword(user, password string) bool {
	want, known := a.users[user]
	got := hashPassword(password)
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return known && match
}

// mac signs msg under a label.
func (a *authenticator) mac(label, msg string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// randomToken returns 128 random bits as text.
func randomToken() string { return rand.Text() }

// issue returns the cookie that signs user in until now+sessionTTL.
func (a *authenticator) issue(user string) (*http.Cookie, error) {
	p := sessionPayload{User: user, Expires: a.now().Add(sessionTTL).Unix(), Nonce: randomToken()}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	body := b64.EncodeToString(raw)
	value := body + "." + b64.EncodeToString(a.mac(labelSession, body))
	return a.cookie(a.sessionName, value, int(sessionTTL/time.Second)), nil
}

// cookie builds a cookie with the dashboard's attributes. It sets Max-Age
// only, not Expires: the browser counts from when it receives the cookie,
// and the server checks the signed expiry against its own clock.
func (a *authenticator) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// clear returns a cookie that deletes the named one.
func (a *authenticator) clear(name string) *http.Cookie { return a.cookie(name, "", -1) }

// verify returns the session r's cookie signs in, if any.
func (a *authenticator) verify(r *http.Request) (session, error) {
	c, err := r.Cookie(a.sessionName)
	if err != nil {
		return session{}, errNoSession
	}
	body, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, errBadSession
	}
	gotMAC, err := b64.DecodeString(sig)
	if err != nil {
		return session{}, errBadSession
	}
	if !hmac.Equal(gotMAC, a.mac(labelSession, body)) {
		return session{}, errBadMAC
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return session{}, errBadSession
	}
	var p sessionPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.User == "" || p.Nonce == "" {
		return session{}, errBadSession
	}
	if !a.now().Before(time.Unix(p.Expires, 0)) {
		return session{}, errExpired
	}
	if _, ok := a.users[p.User]; !ok {
		return session{}, errNoUser
	}
	return session{User: p.User, CSRF: b64.EncodeToString(a.mac(labelCSRF, p.Nonce))}, nil
}

// validCSRF reports whether the form's token is the session's.
func validCSRF(s session, r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) == 1
}

// loginToken returns the login form's CSRF token and, when r has no valid
// login cookie yet, the cookie that goes with it.
func (a *authenticator) loginToken(r *http.Request) (string, *http.Cookie) {
	if c, err := r.Cookie(a.loginName); err == nil && c.Value != "" {
		return b64.EncodeToString(a.mac(labelLoginForm, c.Value)), nil
	}
	nonce := randomToken()
	return b64.EncodeToString(a.mac(labelLoginForm, nonce)), a.cookie(a.loginName, nonce, int(loginTTL/time.Second))
}

// validLoginCSRF reports whether the login form's token matches the login
// cookie (a signed double submit: a cross-site page can neither read the
// cookie nor sign a token of its own).
func (a *authenticator) validLoginCSRF(r *http.Request) bool {
	c, err := r.Cookie(a.loginName)
	if err != nil || c.Value == "" {
		return false
	}
	got, err := b64.DecodeString(r.PostFormValue("csrf"))
	if err != nil {
		return false
	}
	return hmac.Equal(got, a.mac(labelLoginForm, c.Value))
}

// sessionHandler is a handler that runs signed in.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s session)

// requireSession runs h for signed-in requests. Others get 401 JSON under
// /api/ and are sent to the login form elsewhere, GETs with the page they
// asked for to come back to.
func (s *server) requireSession(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.auth.verify(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				s.log.DebugContext(r.Context(), "dashboard: session rejected", "err", err, "remote", r.RemoteAddr)
			}
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeJSON(w, http.StatusUnauthorized, apiError{Error: "authentication required"})
				return
			}
			target := "/login"
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, sess)
	})
}

// safeNext returns next when it is a path on this site, "/" otherwise, so
// the login form cannot be made to redirect elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// loginData fills the login template.
type loginData struct {
	Next  string
	User  string
	Error string
}

func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := s.auth.verify(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginData{Next: next})
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	token, c := s.auth.loginToken(r)
	if c != nil {
		http.SetCookie(w, c)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "login", view{Heading: "Sign in", CSRF: token, Data: d})
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, loginData{Next: "/", Error: "The form could not be read."})
		return
	}
	d := loginData{Next: safeNext(r.PostFormValue("next")), User: r.PostFormValue("username")}
	if !s.auth.validLoginCSRF(r) {
		// Most often a form left open past loginTTL: a fresh one fixes it.
		d.Error = "The sign-in form expired. Please try again."
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	keys := []string{"user:" + d.User, "addr:" + addr}
	if wait := s.limit.blocked(keys...); wait > 0 {
		s.log.WarnContext(r.Context(), "dashboard: sign-in refused after repeated failures", "remote", r.RemoteAddr)
		d.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1)
		s.renderLogin(w, r, http.StatusTooManyRequests, d)
		return
	}
	if !s.auth.checkPassword(d.User, r.PostFormValue("password")) {
		s.limit.fail(keys...)
		// The username is logged only when it is one: people type
		// passwords into the wrong field.
		_, known := s.auth.users[d.User]
		attrs := []any{"remote", r.RemoteAddr, "known_user", known}
		if known {
			attrs = append(attrs, "user", d.User)
		}
		s.log.WarnContext(r.Context(), "dashboard: sign-in failed", attrs...)
		d.Error = "Wrong username or password."
		s.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	s.limit.reset("user:" + d.User)
	c, err := s.auth.issue(d.User)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "dashboard: signed in", "user", d.User, "remote", r.RemoteAddr)
	http.SetCookie(w, c)
	http.SetCookie(w, s.auth.clear(s.auth.loginName))
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, sess session) {
	if !validCSRF(sess, r) {
		s.forbidden(w, r, sess)
		return
	}
	http.SetCookie(w, s.auth.clear(s.auth.sessionName))
	s.log.InfoContext(r.Context(), "dashboard: signed out", "user", sess.User)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
