package notify

import (
	"html"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMIME(t *testing.T) {
	inc := sampleIncident()
	inc.AccountName = "Zürich – prod"
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2025, 3, 14, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	raw, err := e.MIME("LeakGuard <leakguard@example.com>", []string{"Zoë Owner <owner@example.com>", "sec@example.com"}, date, "abc.123@example.com")
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, raw)
	if !strings.Contains(string(raw), "Subject: =?utf-8?q?") {
		t.Errorf("non-ASCII subject not RFC 2047-encoded:\n%s", raw[:400])
	}
	m := parseMessage(t, raw)
	if m.Subject != e.Subject {
		t.Errorf("subject = %q, want %q", m.Subject, e.Subject)
	}
	if m.Text != strings.ReplaceAll(e.Text, "\r\n", "\n") || m.HTML != e.HTML {
		t.Errorf("parts do not round-trip")
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "leakguard@example.com" || from[0].Name != "LeakGuard" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Zoë Owner" || to[0].Address != "owner@example.com" || to[1].Address != "sec@example.com" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if got, err := m.Header.Date(); err != nil || !got.Equal(date) {
		t.Errorf("Date = %v (%v), want %v", got, err, date)
	}
	if id := m.Header.Get("Message-ID"); id != "<abc.123@example.com>" {
		t.Errorf("Message-ID = %q", id)
	}
}

func TestMIMERejectsHeaderInjection(t *testing.T) {
	e := Email{Subject: "hello", Text: "t", HTML: "<p>h</p>"}
	now := time.Now()
	cases := []struct {
		name    string
		e       Email
		from    string
		to      []string
		msgID   string
		wantErr string
	}{
		{"subject LF", Email{Subject: "hi\nBcc: x@evil.test"}, "a@example.com", []string{"b@example.com"}, "<1@example.com>", "subject"},
		{"subject CR", Email{Subject: "hi\rBcc: x@evil.test"}, "a@example.com", []string{"b@example.com"}, "<1@example.com>", "subject"},
		{"from CRLF", e, "a@example.com\r\nBcc: x@evil.test", []string{"b@example.com"}, "<1@example.com>", "from"},
		{"to CRLF", e, "a@example.com", []string{"b@example.com\r\nBcc: x@evil.test"}, "<1@example.com>", "to"},
		{"to name LF", e, "a@example.com", []string{"\"B\nBcc: x@evil.test\" <b@example.com>"}, "<1@example.com>", "to"},
		{"message ID CRLF", e, "a@example.com", []string{"b@example.com"}, "<1@example.com>\r\nBcc: x@evil.test", "message ID"},
		{"message ID space", e, "a@example.com", []string{"b@example.com"}, "<1@exa mple.com>", "message ID"},
		{"no recipients", e, "a@example.com", nil, "<1@example.com>", "recipients"},
		{"bad address", e, "not an address", []string{"b@example.com"}, "<1@example.com>", "from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := c.e.MIME(c.from, c.to, now, c.msgID)
			if err == nil {
				t.Fatalf("MIME accepted it:\n%s", raw)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q does not name %q", err, c.wantErr)
			}
		})
	}
}

func TestMIMEFoldsLongHeaders(t *testing.T) {
	var to []string
	for i := range 30 {
		to = append(to, strings.Repeat("x", 20)+string(rune('a'+i%26))+"@example.com")
	}
	subject := strings.Repeat("word ", 60) + strings.Repeat("y", 300)
	raw, err := Email{Subject: subject, Text: strings.Repeat("long line ", 200), HTML: "<p>x</p>"}.MIME("a@example.com", to, time.Now(), "<1@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, raw)
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if len(line) > 100 {
			t.Errorf("header line of %d octets: %q", len(line), line)
		}
	}
	m := parseMessage(t, raw)
	if m.Subject != subject {
		t.Errorf("subject = %q, want %q", m.Subject, subject)
	}
	got, err := m.Header.AddressList("To")
	if err != nil || len(got) != len(to) {
		t.Fatalf("To has %d addresses (%v), want %d", len(got), err, len(to))
	}
}

func TestNewMessageID(t *testing.T) {
	a, err := NewMessageID("LeakGuard <lg@mail.example.com>")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMessageID("lg@mail.example.com")
	if a == b {
		t.Errorf("two message IDs are equal: %s", a)
	}
	if !strings.HasPrefix(a, "<") || !strings.HasSuffix(a, "@mail.example.com>") {
		t.Errorf("message ID %q not on the sender's domain", a)
	}
	if _, err := normalizeMessageID(a); err != nil {
		t.Errorf("message ID %q is invalid: %v", a, err)
	}
}

// FuzzMIMEHeaders renders an incident with hostile text and builds the
// message with arbitrary subject and addresses: it must never panic, and
// any message it produces must have exactly the headers MIME writes,
// each once, carrying the values given.
func FuzzMIMEHeaders(f *testing.F) {
	f.Add("commit 1a2b3c4, config/prod.env line 3", "prod", "ACTION REQUIRED: key exposed", "LeakGuard <lg@example.com>", "owner@example.com")
	f.Add("<script>alert(1)</script>", "a\r\nBcc: x@evil.test", "s\r\nBcc: x@evil.test", "a@example.com\nBcc: x@evil.test", "\"x\r\nBcc: y\" <b@example.com>")
	f.Add("line1\nline2\r\n.\r\nQUIT", "Zürich", "=?utf-8?q?injected?= subject", "\"Mallory =?utf-8?q?x?=\" <m@example.com>", "Ünïcode <u@example.com>")
	f.Add(strings.Repeat("€", 400), "", strings.Repeat("x", 1200), "<a@b.c>", "a@b.c, c@d.e")
	f.Add("\x00\xff\xfe", "  spaced  ", "  two  spaces \t tab ", "a@[127.0.0.1]", "\"quoted\\\" name\" <q@example.com>")

	wantHeaders := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	date := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	const markBefore, markAfter = "@@[", "]@@"
	f.Fuzz(func(t *testing.T, foundWhere, accountName, subject, from, to string) {
		inc := sampleIncident()
		inc.FoundWhere = markBefore + foundWhere + markAfter
		inc.AccountName = accountName
		e, err := Render(inc)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		// The rendered subject carries the account name: it must be usable.
		if _, err := e.MIME("lg@example.com", []string{"owner@example.com"}, date, "<1@example.com>"); err != nil {
			t.Fatalf("MIME of a rendered email: %v", err)
		}
		e.Subject = subject
		raw, err := e.MIME(from, []string{to}, date, "<1@example.com>")
		if err != nil {
			return // refusing is always allowed
		}
		checkLines(t, raw)
		m := parseMessage(t, raw)
		var keys []string
		for k, v := range m.Header {
			keys = append(keys, k)
			if len(v) != 1 {
				t.Errorf("header %s appears %d times", k, len(v))
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantHeaders) {
			t.Fatalf("headers = %v, want %v\n%s", keys, wantHeaders, raw)
		}
		if utf8.ValidString(subject) && strings.Join(strings.Fields(m.Subject), " ") != strings.Join(strings.Fields(subject), " ") {
			t.Errorf("subject = %q, want %q", m.Subject, subject)
		}
		wantFrom, _ := mail.ParseAddress(from)
		gotFrom, err := m.Header.AddressList("From")
		if err != nil || len(gotFrom) != 1 || gotFrom[0].Address != wantFrom.Address {
			t.Errorf("From = %v (%v), want %v", gotFrom, err, wantFrom)
		}
		wantTo, _ := mail.ParseAddress(to)
		gotTo, err := m.Header.AddressList("To")
		if err != nil || len(gotTo) != 1 || gotTo[0].Address != wantTo.Address {
			t.Errorf("To = %v (%v), want %v", gotTo, err, wantTo)
		}
		// The hostile text reaches both parts on one line, and between
		// the markers the HTML holds only escaped text.
		line := oneLine(markBefore + foundWhere + markAfter)
		if !strings.Contains(m.Text, "Found in:       "+line+"\n") {
			t.Errorf("text part lacks FoundWhere %q on a line of its own", line)
		}
		_, rest, ok := strings.Cut(m.HTML, "<th>Found in</th><td>"+markBefore)
		seg, _, ok2 := strings.Cut(rest, markAfter+"</td></tr>")
		if !ok || !ok2 {
			t.Fatalf("html part lacks the marked FoundWhere")
		}
		if strings.ContainsAny(seg, "<>\"'") || html.UnescapeString(seg) != line[len(markBefore):len(line)-len(markAfter)] {
			t.Errorf("html part has FoundWhere as %q, want %q escaped", seg, line)
		}
		if strings.Contains(m.HTML, "<script>") {
			t.Errorf("html part contains a script element")
		}
	})
}
