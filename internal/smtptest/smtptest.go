// Package smtptest runs a real SMTP server in-process for tests
// (github.com/emersion/go-smtp): STARTTLS with a certificate made for the
// test, AUTH PLAIN, and every accepted message kept for inspection.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool      // the session was upgraded with STARTTLS
	At   time.Time // when the message was accepted
}

// Server is a running SMTP server.
type Server struct {
	Addr      string
	ClientTLS *tls.Config // trusts the server's certificate
	Username  string
	Password  string

	srv   *smtp.Server
	plain bool // no TLS, no login required
	mu    sync.Mutex
	got   []Message
	ch    chan struct{}
}

// Start starts a server on a loopback port that requires STARTTLS and
// AUTH PLAIN with Username "leakguard" and Password "s3cret-test-password".
func Start(tb testing.TB) *Server {
	tb.Helper()
	cert, pool := selfSigned(tb)
	s := &Server{Username: "leakguard", Password: "s3cret-test-password",
		ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	return s.serve(tb, &tls.Config{Certificates: []tls.Certificate{cert}})
}

// StartPlain starts a plaintext loopback relay: no TLS, no login, as a
// local MTA that the real binary (which cannot trust a test CA) talks to.
func StartPlain(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{plain: true}
	return s.serve(tb, nil)
}

// serve starts s on a loopback port, with STARTTLS when tlsConfig is set.
func (s *Server) serve(tb testing.TB, tlsConfig *tls.Config) *Server {
	s.ch = make(chan struct{}, 1000)
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = tlsConfig
	s.srv.AllowInsecureAuth = false
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go s.srv.Serve(l)
	tb.Cleanup(func() { s.srv.Close() })
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.got...)
}

// Wait waits until n messages have arrived or timeout passes, and returns
// what arrived.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for len(s.Messages()) < n {
		select {
		case <-s.ch:
		case <-deadline:
			return s.Messages()
		}
	}
	return s.Messages()
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	msg    Message
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != x.s.Username || password != x.s.Password {
			return errors.New("invalid credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed && !x.s.plain {
		return smtp.ErrAuthRequired
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.msg = Message{From: from, TLS: isTLS}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.To = append(x.msg.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.msg.Data = b
	x.msg.At = time.Now()
	x.s.mu.Lock()
	x.s.got = append(x.s.got, x.msg)
	x.s.mu.Unlock()
	select {
	case x.s.ch <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.msg = Message{} }
func (x *session) Logout() error { return nil }

func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
