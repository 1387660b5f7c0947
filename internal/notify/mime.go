package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// maxAddressLen bounds one formatted address so a header line stays far
// below RFC 5322's 998-octet limit.
const maxAddressLen = 900

// MIME renders the email as an RFC 5322 message: a multipart/alternative
// body with quoted-printable UTF-8 text/plain and text/html parts. from
// and each of to are RFC 5322 addresses ("Name <user@example.com>" or a
// bare address); messageID may be given with or without angle brackets.
// A CR or LF in any header value is an error, never a new header.
func (e Email) MIME(from string, to []string, date time.Time, messageID string) ([]byte, error) {
	fromAddr, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mime: from: %w", err)
	}
	if len(to) == 0 {
		return nil, errors.New("mime: no recipients")
	}
	toAddrs := make([]string, 0, len(to))
	for _, t := range to {
		a, err := parseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("mime: to: %w", err)
		}
		toAddrs = append(toAddrs, a.String())
	}
	if err := checkHeaderValue(e.Subject); err != nil {
		return nil, fmt.Errorf("mime: subject: %w", err)
	}
	msgID, err := normalizeMessageID(messageID)
	if err != nil {
		return nil, fmt.Errorf("mime: message ID: %w", err)
	}

	var b bytes.Buffer
	writeHeader(&b, "From", fromAddr.String())
	writeHeader(&b, "To", strings.Join(toAddrs, ", "))
	writeHeader(&b, "Subject", encodeSubject(e.Subject))
	writeHeader(&b, "Date", date.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", msgID)
	// RFC 3834: an automatic message; autoresponders should not answer.
	writeHeader(&b, "Auto-Submitted", "auto-generated")
	writeHeader(&b, "MIME-Version", "1.0")
	mw := multipart.NewWriter(&b)
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{
		{"text/plain", e.Text},
		{"text/html", e.HTML},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.typ+"; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, fmt.Errorf("mime: %w", err)
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, fmt.Errorf("mime: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("mime: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("mime: %w", err)
	}
	return b.Bytes(), nil
}

// parseAddress parses one address and checks that its formatted form
// reads back as the same address, so what is written is what was meant.
func parseAddress(s string) (*mail.Address, error) {
	if err := checkHeaderValue(s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %w", s, err)
	}
	f := a.String()
	if len(f) > maxAddressLen {
		return nil, fmt.Errorf("address too long (%d bytes)", len(f))
	}
	back, err := mail.ParseAddress(f)
	if err != nil || back.Address != a.Address || back.Name != a.Name {
		return nil, fmt.Errorf("unsupported address %q", s)
	}
	return a, nil
}

// checkHeaderValue refuses what would end a header line early.
func checkHeaderValue(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return errors.New("contains CR, LF or NUL")
	}
	return nil
}

func normalizeMessageID(id string) (string, error) {
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" {
		return "", errors.New("empty")
	}
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || len(id) > 250 {
		return "", fmt.Errorf("%q is not of the form left@right", id)
	}
	for _, c := range []byte(id) {
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return "", fmt.Errorf("%q has a character not allowed in a message ID", id)
		}
	}
	return "<" + id + ">", nil
}

// NewMessageID returns a random message ID on the domain of from, which
// must be a valid address.
func NewMessageID(from string) (string, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return "", fmt.Errorf("message ID: %w", err)
	}
	domain := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("message ID: %w", err)
	}
	return "<leakguard." + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// encodeSubject leaves simple printable ASCII as it is and encodes
// anything else as RFC 2047 Q encoded words, which keep every character,
// space and line length intact through folding.
func encodeSubject(s string) string {
	if plainSubject(s) {
		return s
	}
	const maxWord = 75 - len("=?utf-8?q??=")
	var words []string
	var w strings.Builder
	for i := 0; i < len(s); {
		// Keep each UTF-8 sequence whole within one encoded word.
		_, size := utf8.DecodeRuneInString(s[i:])
		chunk := s[i : i+size]
		i += size
		var enc string
		switch c := chunk[0]; {
		case c == ' ':
			enc = "_"
		case size == 1 && c > ' ' && c < 0x7f && c != '=' && c != '?' && c != '_':
			enc = chunk
		default:
			var sb strings.Builder
			for _, c := range []byte(chunk) {
				fmt.Fprintf(&sb, "=%02X", c)
			}
			enc = sb.String()
		}
		if w.Len()+len(enc) > maxWord {
			words = append(words, "=?utf-8?q?"+w.String()+"?=")
			w.Reset()
		}
		w.WriteString(enc)
	}
	if w.Len() > 0 || len(words) == 0 {
		words = append(words, "=?utf-8?q?"+w.String()+"?=")
	}
	return strings.Join(words, " ")
}

// plainSubject reports whether s can go into a header as it is: printable
// ASCII words of at most 75 octets separated by single spaces, and
// nothing a decoder would take for an encoded word.
func plainSubject(s string) bool {
	if strings.Contains(s, "=?") {
		return false
	}
	for _, word := range strings.Split(s, " ") {
		if word == "" && s != "" || len(word) > 75 {
			return false
		}
		for _, c := range []byte(word) {
			if c <= ' ' || c >= 0x7f {
				return false
			}
		}
	}
	return true
}

// writeHeader writes "Name: value" folded at spaces so that lines stay
// near 78 octets where the value allows it.
func writeHeader(b *bytes.Buffer, name, value string) {
	const limit = 78
	line := len(name) + 2
	b.WriteString(name)
	b.WriteString(": ")
	prev := ""
	for i, word := range strings.Split(value, " ") {
		if i > 0 {
			// Fold only at a single space between two words: unfolding
			// turns "CRLF SP" back into that one space.
			if word != "" && prev != "" && line+1+len(word) > limit {
				b.WriteString("\r\n ")
				line = 1
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(word)
		line += len(word)
		prev = word
	}
	b.WriteString("\r\n")
}
