package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

// parsedMessage is a received message taken apart the way a mail client
// would.
type parsedMessage struct {
	Header  mail.Header
	Subject string // decoded
	Text    string
	HTML    string
}

// parseMessage parses raw with net/mail and mime/multipart, checking the
// structure MIME promises: multipart/alternative with a quoted-printable
// UTF-8 text/plain part and a text/html part.
func parseMessage(t testing.TB, raw []byte) parsedMessage {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	p := parsedMessage{Header: msg.Header}
	p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	if v := msg.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, cparams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		if cs := strings.ToLower(cparams["charset"]); cs != "utf-8" {
			t.Errorf("%s charset = %q, want utf-8", ct, cs)
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("%s Content-Transfer-Encoding = %q, want quoted-printable", ct, cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatalf("decode %s part: %v", ct, err)
		}
		types = append(types, ct)
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Fatalf("parts = %v, want text/plain then text/html", types)
	}
	return p
}

// checkLines fails if any line of raw is not CRLF-terminated or is longer
// than RFC 5322 allows.
func checkLines(t testing.TB, raw []byte) {
	t.Helper()
	for i, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Fatalf("line %d not CRLF-terminated: %q", i+1, line)
		}
		if len(line) > 1000 {
			t.Fatalf("line %d is %d octets long", i+1, len(line))
		}
		if bytes.ContainsRune(line[:len(line)-2], '\r') {
			t.Fatalf("line %d has a bare CR: %q", i+1, line)
		}
	}
}
