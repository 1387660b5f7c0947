package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"html"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

const (
	testUser = "leakguard"
	testPass = "correct horse battery staple"
)

// mailServer is a real SMTP server (go-smtp) that records what it is
// asked and receives.
type mailServer struct {
	Addr string
	pool *x509.CertPool // trusts the server's certificate

	// rcptErrs is returned, one per RCPT, before RCPTs are accepted.
	rcptErrs []error
	// anonymous lets mail through without AUTH, as a local relay does.
	anonymous bool

	mu       sync.Mutex
	received []receivedMail
	authOK   int
	authBad  int
	mails    int
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
}

type serverMode int

const (
	plainSMTP    serverMode = iota // no TLS at all
	startTLSSMTP                   // STARTTLS offered
	implicitTLS                    // TLS from the first byte
)

// startMailServer serves SMTP on addr ("127.0.0.1:0" for any port) until
// the test ends. AUTH PLAIN accepts testUser/testPass and, as on any
// sensible server, is offered only over TLS.
func startMailServer(t *testing.T, mode serverMode, addr string, opts ...func(*mailServer)) *mailServer {
	t.Helper()
	ms := &mailServer{}
	for _, o := range opts {
		o(ms)
	}
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &mailSession{srv: ms}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = false
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainSMTP {
		cert, pool := selfSignedCert(t)
		ms.pool = pool
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		if mode == implicitTLS {
			l = tls.NewListener(l, s.TLSConfig)
		}
	}
	ms.Addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ms
}

func (ms *mailServer) snapshot() (received []receivedMail, authOK, authBad, mails int) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]receivedMail(nil), ms.received...), ms.authOK, ms.authBad, ms.mails
}

type mailSession struct {
	srv    *mailServer
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		defer s.srv.mu.Unlock()
		if username != testUser || password != testPass {
			s.srv.authBad++
			return gosmtp.ErrAuthFailed
		}
		s.srv.authOK++
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.mails++
	if !s.authed && !s.srv.anonymous {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if len(s.srv.rcptErrs) > 0 {
		err := s.srv.rcptErrs[0]
		s.srv.rcptErrs = s.srv.rcptErrs[1:]
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.received = append(s.srv.received, receivedMail{From: s.from, To: s.to, Data: b})
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

func anonymous(ms *mailServer) { ms.anonymous = true }

// selfSignedCert makes a certificate for 127.0.0.1 and localhost and a
// pool that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "leakguard test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func smtpChannel(ms *mailServer, mode string) *SMTP {
	return &SMTP{
		Addr:      ms.Addr,
		From:      "LeakGuard <leakguard@example.com>",
		To:        []string{"Cloud Owner <owner@example.com>", "security@example.com"},
		Username:  testUser,
		Password:  testPass,
		TLS:       mode,
		TLSConfig: &tls.Config{RootCAs: ms.pool},
	}
}

// sleeps is an injected Notifier.Sleep that records the waits and can
// act on each one.
type sleeps struct {
	mu   sync.Mutex
	d    []time.Duration
	hook func(n int)
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	n := len(s.d)
	s.mu.Unlock()
	if s.hook != nil {
		s.hook(n)
	}
	return ctx.Err()
}

func TestSMTPStartTLSDelivers(t *testing.T) {
	ms := startMailServer(t, startTLSSMTP, "127.0.0.1:0")
	inc := sampleIncident()
	inc.FoundWhere = `config/prod.env line 3 <script>alert("owned")</script>`
	ch := smtpChannel(ms, StartTLS)
	ref, err := ch.Send(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	got, authOK, _, _ := ms.snapshot()
	if len(got) != 1 || authOK != 1 {
		t.Fatalf("server received %d messages after %d logins, want 1 and 1", len(got), authOK)
	}
	rm := got[0]
	if rm.From != "leakguard@example.com" || strings.Join(rm.To, ",") != "owner@example.com,security@example.com" {
		t.Errorf("envelope from %q to %v", rm.From, rm.To)
	}
	checkLines(t, rm.Data)
	m := parseMessage(t, rm.Data)
	if id := m.Header.Get("Message-ID"); id != ref || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q, Send returned %q", id, ref)
	}
	want, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != want.Subject || !strings.HasPrefix(m.Subject, "ACTION REQUIRED: Your AWS Access Key is Exposed for AWS Account 123456789012") {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, body := range []string{m.Text, html.UnescapeString(m.HTML)} {
		for _, s := range []string{inc.KeyID, inc.Account, inc.UserName, inc.FoundURL, inc.Actions[0].Step, "+2s",
			"aws iam delete-access-key --user-name ci-deploy --access-key-id AKIAIOSFODNN7EXAMPLE",
			"lookup-events", "Billing", "leakguard aws release AKIAIOSFODNN7EXAMPLE", inc.FoundWhere} {
			if !strings.Contains(body, s) {
				t.Errorf("received part lacks %q", s)
			}
		}
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("html part does not escape FoundWhere")
	}
	if strings.Contains(string(rm.Data), testPass) {
		t.Errorf("the message contains the SMTP password")
	}
}

func TestSMTPImplicitTLSDelivers(t *testing.T) {
	ms := startMailServer(t, implicitTLS, "127.0.0.1:0")
	if _, err := smtpChannel(ms, ImplicitTLS).Send(context.Background(), sampleIncident()); err != nil {
		t.Fatal(err)
	}
	if got, authOK, _, _ := ms.snapshot(); len(got) != 1 || authOK != 1 {
		t.Fatalf("server received %d messages after %d logins, want 1 and 1", len(got), authOK)
	}
}

func TestSMTPRefusesServerWithoutSTARTTLS(t *testing.T) {
	ms := startMailServer(t, plainSMTP, "127.0.0.1:0")
	sl := &sleeps{}
	n := &Notifier{Channels: []Channel{smtpChannel(ms, StartTLS)}, Attempts: 3, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal naming STARTTLS", err)
	}
	if !IsPermanent(ds[0].Err) || ds[0].Attempts != 1 || len(sl.d) != 0 {
		t.Errorf("delivery %+v after %d sleeps, want one permanent failure", ds[0], len(sl.d))
	}
	got, authOK, authBad, mails := ms.snapshot()
	if len(got)+authOK+authBad+mails != 0 {
		t.Errorf("client went on in plaintext: %d messages, %d+%d logins, %d MAIL", len(got), authOK, authBad, mails)
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	ms := startMailServer(t, startTLSSMTP, "127.0.0.1:0")
	ch := smtpChannel(ms, StartTLS)
	ch.TLSConfig = nil // the system roots do not include the test certificate
	_, err := ch.Send(context.Background(), sampleIncident())
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) || !IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent unknown-authority error", err)
	}
	if _, authOK, authBad, _ := ms.snapshot(); authOK+authBad != 0 {
		t.Errorf("client logged in over an unverified connection")
	}
}

func TestSMTPWrongPasswordIsPermanent(t *testing.T) {
	ms := startMailServer(t, startTLSSMTP, "127.0.0.1:0")
	ch := smtpChannel(ms, StartTLS)
	ch.Password = "wrong password"
	sl := &sleeps{}
	var logs bytes.Buffer
	n := &Notifier{Channels: []Channel{ch}, Attempts: 4, Backoff: time.Second, Sleep: sl.sleep, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err == nil {
		t.Fatal("delivered with a wrong password")
	}
	if !strings.Contains(logs.String(), "535") || strings.Contains(logs.String(), "wrong password") {
		t.Errorf("log does not report the refusal, or reveals the password:\n%s", logs.String())
	}
	if !IsPermanent(ds[0].Err) || ds[0].Attempts != 1 || len(sl.d) != 0 {
		t.Errorf("delivery %+v after %d sleeps, want one permanent failure", ds[0], len(sl.d))
	}
	if strings.Contains(err.Error(), "wrong password") {
		t.Errorf("error reveals the password: %v", err)
	}
	if got, authOK, authBad, _ := ms.snapshot(); len(got) != 0 || authOK != 0 || authBad != 1 {
		t.Errorf("server saw %d messages, %d good and %d bad logins; want 0, 0, 1", len(got), authOK, authBad)
	}
}

func TestSMTPServerDownThenUp(t *testing.T) {
	// Find a free port, then leave it closed: the server is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ch := &SMTP{Addr: addr, From: "leakguard@example.com", To: []string{"owner@example.com"}, Username: testUser, Password: testPass}
	var ms *mailServer
	sl := &sleeps{hook: func(n int) {
		if n == 2 { // the server comes up during the second wait
			ms = startMailServer(t, startTLSSMTP, addr)
			ch.TLSConfig = &tls.Config{RootCAs: ms.pool}
		}
	}}
	n := &Notifier{Channels: []Channel{ch}, Attempts: 5, Backoff: 3 * time.Second, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err != nil {
		t.Fatalf("not delivered: %v", err)
	}
	d := ds[0]
	if d.Attempts != 3 || d.Err != nil || d.Ref == "" || d.Channel != "smtp" {
		t.Errorf("delivery = %+v, want delivered on attempt 3", d)
	}
	if len(sl.d) != 2 || sl.d[0] != 3*time.Second || sl.d[1] != 6*time.Second {
		t.Errorf("waits = %v, want [3s 6s]", sl.d)
	}
	got, _, _, _ := ms.snapshot()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if id := parseMessage(t, got[0].Data).Header.Get("Message-ID"); id != d.Ref {
		t.Errorf("Message-ID %q, delivery ref %q", id, d.Ref)
	}
}

func TestSMTPGivesUpAfterAttempts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens: every attempt is refused
	sl := &sleeps{}
	n := &Notifier{Channels: []Channel{&SMTP{Addr: addr, From: "a@example.com", To: []string{"b@example.com"}}}, Attempts: 3, Backoff: time.Second, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err == nil || IsPermanent(ds[0].Err) {
		t.Fatalf("err = %v, want a transient failure", err)
	}
	if ds[0].Attempts != 3 || len(sl.d) != 2 || sl.d[1] != 2*time.Second {
		t.Errorf("attempts %d, waits %v; want 3 attempts, waits [1s 2s]", ds[0].Attempts, sl.d)
	}
}

func TestSMTPRecipientRejected(t *testing.T) {
	ms := startMailServer(t, startTLSSMTP, "127.0.0.1:0", func(ms *mailServer) {
		ms.rcptErrs = []error{&gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}
	})
	sl := &sleeps{}
	n := &Notifier{Channels: []Channel{smtpChannel(ms, StartTLS)}, Attempts: 3, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err == nil || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "owner@example.com") {
		t.Fatalf("err = %v, want the 550 for owner@example.com", err)
	}
	if !IsPermanent(ds[0].Err) || ds[0].Attempts != 1 || len(sl.d) != 0 {
		t.Errorf("delivery %+v after %d sleeps, want one permanent failure", ds[0], len(sl.d))
	}
	if got, _, _, _ := ms.snapshot(); len(got) != 0 {
		t.Errorf("server received %d messages", len(got))
	}
}

func TestSMTPRecipientDeferredIsRetried(t *testing.T) {
	ms := startMailServer(t, startTLSSMTP, "127.0.0.1:0", func(ms *mailServer) {
		ms.rcptErrs = []error{&gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}}
	})
	sl := &sleeps{}
	n := &Notifier{Channels: []Channel{smtpChannel(ms, StartTLS)}, Attempts: 3, Backoff: time.Minute, Sleep: sl.sleep}
	ds, err := n.Notify(context.Background(), sampleIncident())
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Attempts != 2 || len(sl.d) != 1 || sl.d[0] != time.Minute {
		t.Errorf("delivery %+v after waits %v, want attempt 2 after one 1m wait", ds[0], sl.d)
	}
	if got, _, _, _ := ms.snapshot(); len(got) != 1 {
		t.Errorf("server received %d messages, want 1", len(got))
	}
}

func TestSMTPPlaintextOnlyToLoopback(t *testing.T) {
	// A local relay without TLS or AUTH is fine on loopback.
	ms := startMailServer(t, plainSMTP, "127.0.0.1:0", anonymous)
	relay := &SMTP{Addr: ms.Addr, From: "leakguard@example.com", To: []string{"owner@example.com"}, TLS: NoTLS}
	if _, err := relay.Send(context.Background(), sampleIncident()); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _ := ms.snapshot(); len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}

	// Anywhere else it is refused before any connection: the context is
	// already cancelled, so a dial could not even start.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, addr := range []string{"mail.example.com:25", "192.0.2.10:25", "[2001:db8::1]:25"} {
		ch := &SMTP{Addr: addr, From: "leakguard@example.com", To: []string{"owner@example.com"}, TLS: NoTLS}
		_, err := ch.Send(ctx, sampleIncident())
		if err == nil || !strings.Contains(err.Error(), "loopback") || !IsPermanent(err) || errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want a permanent loopback refusal", addr, err)
		}
	}

	// And never with a password, even on loopback.
	withPass := &SMTP{Addr: ms.Addr, From: "leakguard@example.com", To: []string{"owner@example.com"}, TLS: NoTLS, Username: testUser, Password: testPass}
	if _, err := withPass.Send(context.Background(), sampleIncident()); err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("err = %v, want a refusal to authenticate without TLS", err)
	}
	if _, authOK, authBad, _ := ms.snapshot(); authOK+authBad != 0 {
		t.Errorf("the password was sent in plaintext")
	}
}

func TestSMTPContextDeadline(t *testing.T) {
	// A server that accepts connections and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	ch := &SMTP{Addr: l.Addr().String(), From: "leakguard@example.com", To: []string{"owner@example.com"}}
	_, err = ch.Send(ctx, sampleIncident())
	if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
		t.Fatalf("err = %v, want a transient deadline error", err)
	}
}
