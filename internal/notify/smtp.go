package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// TLS modes for the SMTP channel.
const (
	// StartTLS upgrades a plain connection with STARTTLS and fails if the
	// server does not offer it. It is the default.
	StartTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS = "tls"
	// NoTLS sends in plaintext; it is allowed only to a loopback address
	// (a local relay) and never with a password.
	NoTLS = "none"
)

// SMTP sends the notification by email through an SMTP submission server.
type SMTP struct {
	Addr     string   // host:port of the submission server
	From     string   // sender address, e.g. "LeakGuard <leakguard@example.com>"
	To       []string // recipient addresses
	Username string   // AUTH PLAIN user; empty means no authentication
	Password string   // read by the caller from the environment; never logged
	// TLS is StartTLS (default), ImplicitTLS or NoTLS.
	TLS string
	// TLSConfig overrides the TLS settings; ServerName defaults to the
	// host of Addr.
	TLSConfig *tls.Config
	// LocalName is the name sent with EHLO; default "localhost".
	LocalName string
	// Timeout bounds one attempt when ctx has no earlier deadline;
	// default 60s.
	Timeout time.Duration
}

// Name implements Channel.
func (s *SMTP) Name() string { return "smtp" }

// Send renders the incident and submits it; the reference is the
// message's Message-ID. Server replies 5xx, TLS refusals and invalid
// addresses are permanent errors; 4xx replies and network failures are
// not.
func (s *SMTP) Send(ctx context.Context, inc Incident) (string, error) {
	email, err := Render(inc)
	if err != nil {
		return "", Permanent(err)
	}
	msgID, err := NewMessageID(s.From)
	if err != nil {
		return "", Permanent(fmt.Errorf("smtp send to %s: %w", s.Addr, err))
	}
	msg, err := email.MIME(s.From, s.To, time.Now(), msgID)
	if err != nil {
		return "", Permanent(fmt.Errorf("smtp send to %s: %w", s.Addr, err))
	}
	if err := s.send(ctx, msg); err != nil {
		return "", classifySMTP(fmt.Errorf("smtp send to %s: %w", s.Addr, err))
	}
	return msgID, nil
}

// errConfig marks a refusal that comes from the channel's settings or the
// server's capabilities, which a retry cannot change.
type errConfig struct{ msg string }

func (e errConfig) Error() string { return e.msg }

func (s *SMTP) send(ctx context.Context, msg []byte) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return errConfig{fmt.Sprintf("invalid address %q: %v", s.Addr, err)}
	}
	mode := s.TLS
	if mode == "" {
		mode = StartTLS
	}
	switch mode {
	case StartTLS, ImplicitTLS:
	case NoTLS:
		if !isLoopback(host) {
			return errConfig{fmt.Sprintf("TLS mode %q is allowed only to a loopback address, not %q", NoTLS, host)}
		}
		if s.Username != "" {
			return errConfig{"refusing to authenticate without TLS"}
		}
	default:
		return errConfig{fmt.Sprintf("unknown TLS mode %q (want %s, %s or %s)", mode, StartTLS, ImplicitTLS, NoTLS)}
	}
	from, err := parseAddress(s.From)
	if err != nil {
		return errConfig{"from: " + err.Error()}
	}
	var rcpts []string
	for _, t := range s.To {
		a, err := parseAddress(t)
		if err != nil {
			return errConfig{"to: " + err.Error()}
		}
		rcpts = append(rcpts, a.Address)
	}
	if len(rcpts) == 0 {
		return errConfig{"no recipients"}
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConf := s.tlsConfig(host)
	var conn net.Conn
	if mode == ImplicitTLS {
		conn, err = (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	// When ctx ends (cancelled or past its deadline, which the timeout
	// guarantees), a blocked read or write is interrupted at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	err = s.converse(conn, host, mode, tlsConf, from.Address, rcpts, msg)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

func (s *SMTP) converse(conn net.Conn, host, mode string, tlsConf *tls.Config, from string, rcpts []string, msg []byte) error {
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if mode == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errConfig{"server does not offer STARTTLS; refusing to send in plaintext"}
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.Username != "" {
		if _, ok := c.TLSConnectionState(); !ok {
			return errConfig{"refusing to authenticate without TLS"}
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return errConfig{"server does not offer AUTH"}
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("AUTH PLAIN as %s: %w", s.Username, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func (s *SMTP) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// classifySMTP marks err permanent when a retry cannot help: a 5xx
// reply, a configuration refusal or a certificate the client rejects.
func classifySMTP(err error) error {
	var tp *textproto.Error
	var cfg errConfig
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &tp) && tp.Code >= 500:
		return Permanent(err)
	case errors.As(err, &cfg), errors.As(err, &cert):
		return Permanent(err)
	}
	return err
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
