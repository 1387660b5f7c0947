package detect

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/rules"
)

// testRules is a small rule set independent of the catalogue, so these
// tests pin the engine's behaviour and not the rules'.
const testRules = `
[[rules]]
id = "github-pat"
keywords = ["ghp_"]
regex = '''\b(ghp_[A-Za-z0-9]{36})\b'''
validator = "github-crc32"
confidence = "high"

[[rules]]
id = "aws-access-key"
keywords = ["akia", "asia"]
regex = '''\b((?:AKIA|ASIA)[A-Z2-7]{16})\b'''
validator = "aws-key-id"
[rules.pair]
regex = '''(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{40})(?:[^A-Za-z0-9+/=]|$)'''
entropy = 4.0

[[rules]]
id = "generic-password"
generic = true
keywords = ["password"]
regex = '''(?i)password["']?\s*[:=]\s*["']?([^\s"']{8,64})'''
entropy = 3.0

[[rules]]
id = "private-key"
keywords = ["-----begin"]
window = 16384
regex = '''-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----(?:\\n|\s)+[A-Za-z0-9+/=\s\\]{64,}?(?:\\n|\s)*-----END (?:RSA |EC |OPENSSH )?PRIVATE KEY-----'''
validator = "pem-private-key"
`

func testEngine(t testing.TB) *Engine {
	t.Helper()
	rs, err := rules.Parse(testRules)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ghToken makes a well-formed GitHub token with a valid checksum.
func ghToken(r *rand.Rand) string {
	const alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 30)
	for i := range b {
		b[i] = alpha[r.Intn(len(alpha))]
	}
	return "ghp_" + string(b) + CRC32Checksum(string(b))
}

const (
	awsID     = "AKIARZPUZDIKC6T4U5BK" // decodes to account 123456789012
	awsSecret = "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"
)

func secrets(ms []Match) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.RuleID+"="+m.Secret)
	}
	return s
}

func TestScan(t *testing.T) {
	e := testEngine(t)
	r := rand.New(rand.NewSource(7))
	tok := ghToken(r)
	bad := tok[:len(tok)-1] + string("AB"[0]^tok[len(tok)-1]&1) // checksum broken
	if bad == tok {
		t.Fatal("test token unchanged")
	}
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"GitHubToken", "token := \"" + tok + "\"\n", []string{"github-pat=" + tok}},
		{"GitHubChecksumInvalid", "token := \"" + bad + "\"\n", nil},
		{"AWSPair", "aws_access_key_id = " + awsID + "\naws_secret_access_key = " + awsSecret + "\n", []string{"aws-access-key=" + awsSecret}},
		{"AWSDocumentationExample", "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", nil},
		{"AWSIDAlone", "key: " + awsID + "\n", []string{"aws-access-key=" + awsID}},
		{"GenericPassword", "db_password = \"Tr0ub4dor&3xQ\"\n", []string{"generic-password=Tr0ub4dor&3xQ"}},
		{"Placeholder", "password = \"${DB_PASSWORD}\"\npassword: <your-password>\npassword=changeme123\n", nil},
		{"AllowComment", "token := \"" + tok + "\" // leakguard:allow\n", nil},
		{"UUIDIsNotAPassword", "password = 123e4567-e89b-12d3-a456-426614174000\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secrets(e.Scan([]byte(tt.in), Target{}))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAWSAccountDecoded(t *testing.T) {
	e := testEngine(t)
	ms := e.Scan([]byte("id="+awsID+" secret="+awsSecret), Target{})
	if len(ms) != 1 {
		t.Fatalf("got %d matches", len(ms))
	}
	m := ms[0]
	if m.Identifier != awsID || m.Attrs["aws_account_id"] != "123456789012" || m.Confidence != rules.High {
		t.Fatalf("match = %+v", m)
	}
}

func TestDecoding(t *testing.T) {
	e := testEngine(t)
	tok := ghToken(rand.New(rand.NewSource(3)))
	k8s := "apiVersion: v1\nkind: Secret\ndata:\n  token: " + base64.StdEncoding.EncodeToString([]byte(tok)) + "\n"
	ms := e.Scan([]byte(k8s), Target{})
	if len(ms) != 1 || ms[0].Secret != tok || strings.Join(ms[0].Decoded, ",") != "base64" {
		t.Fatalf("base64: got %+v", ms)
	}
	if want := strings.Index(k8s, "Z2hw"); ms[0].Start != want {
		t.Fatalf("base64: start %d, want %d (the encoded text)", ms[0].Start, want)
	}

	// A keyed secret inside base64 keeps its key as context.
	kv := "  DB_PASSWORD: " + base64.StdEncoding.EncodeToString([]byte("Zk3!pQ9vLm2x")) + "\n"
	if got := secrets(e.Scan([]byte(kv), Target{})); len(got) != 1 || got[0] != "generic-password=Zk3!pQ9vLm2x" {
		t.Fatalf("keyed base64: got %q", got)
	}

	pct := "url=https://ci.example.net/hook?t=" + strings.Replace(tok, "_", "%5F", 1) + "&x=1\n"
	ms = e.Scan([]byte(pct), Target{})
	if len(ms) != 1 || ms[0].Secret != tok || ms[0].Decoded[0] != "percent" {
		t.Fatalf("percent: got %+v", ms)
	}

	// A service-account JSON holds its key with escaped newlines.
	body := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x30, 0x82, 0x04, 0xa4, 0x02, 0x01}, 40))
	var lines []string
	for len(body) > 64 {
		lines, body = append(lines, body[:64]), body[64:]
	}
	lines = append(lines, body)
	key := "-----BEGIN PRIVATE KEY-----\\n" + strings.Join(lines, "\\n") + "\\n-----END PRIVATE KEY-----\\n"
	sa := `{"type": "service_account", "private_key": "` + key + `", "client_email": "a@b.iam.gserviceaccount.com"}`
	ms = e.Scan([]byte(sa), Target{})
	if len(ms) != 1 || ms[0].RuleID != "private-key" {
		t.Fatalf("escaped PEM: got %d matches %q", len(ms), secrets(ms))
	}
}

// TestStreamMatchesWholeScan checks chunked scanning against scanning the
// whole buffer, with chunks small enough to cut through secrets.
func TestStreamMatchesWholeScan(t *testing.T) {
	e := testEngine(t)
	r := rand.New(rand.NewSource(11))
	var b strings.Builder
	var want []string
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "line %d: %s\n", i, strings.Repeat("ab ", r.Intn(300)))
		if i%7 == 0 {
			tok := ghToken(r)
			fmt.Fprintf(&b, "  token = %q\n", tok)
			want = append(want, tok)
		}
	}
	in := b.String()
	for _, chunk := range []int{1 << 12, 1 << 14, 1 << 20} {
		var got []string
		lastLine := 0
		err := e.scanStream(strings.NewReader(in), Target{}, chunk, func(m Match, p Position) {
			got = append(got, m.Secret)
			lines := strings.Split(in, "\n")
			if !strings.Contains(lines[p.Line-1], m.Secret) {
				t.Fatalf("chunk %d: line %d does not hold %s", chunk, p.Line, m.Secret)
			}
			if p.Line <= lastLine {
				t.Fatalf("chunk %d: positions out of order", chunk)
			}
			if col := strings.Index(lines[p.Line-1], m.Secret) + 1; col != p.Column {
				t.Fatalf("chunk %d: column %d, want %d", chunk, p.Column, col)
			}
			lastLine = p.Line
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("chunk %d: got %d secrets, want %d", chunk, len(got), len(want))
		}
	}
}

// TestLongLine scans one line far longer than a chunk, with secrets
// placed across chunk boundaries.
func TestLongLine(t *testing.T) {
	e := testEngine(t)
	r := rand.New(rand.NewSource(5))
	var b bytes.Buffer
	var want []string
	for b.Len() < 3*ChunkSize {
		b.WriteString(strings.Repeat("x=1;", 50000))
		tok := ghToken(r)
		want = append(want, tok)
		b.WriteString(" " + tok + " ")
	}
	var got []string
	if err := e.ScanStream(&b, Target{}, func(m Match, p Position) {
		got = append(got, m.Secret)
		if p.Line != 1 {
			t.Fatalf("line %d, want 1", p.Line)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %d secrets, want %d", len(got), len(want))
	}
}

func FuzzScan(f *testing.F) {
	e := testEngine(f)
	f.Add([]byte("password = \"Tr0ub4dor&3xQ\""))
	f.Add([]byte("AKIARZPUZDIKC6T4U5BK " + awsSecret))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\\nAAAA\\n"))
	f.Add([]byte("\x00\xff%5F\\u00zz Z2hwXw=="))
	f.Fuzz(func(t *testing.T, in []byte) {
		ms := e.Scan(in, Target{})
		for _, m := range ms {
			if m.Start < 0 || m.End > len(in) || m.Start > m.End {
				t.Fatalf("match span [%d,%d) outside input of %d bytes", m.Start, m.End, len(in))
			}
			if m.Secret == "" {
				t.Fatal("empty secret")
			}
		}
	})
}

func FuzzDecodeSegments(f *testing.F) {
	f.Add([]byte("data: Z2hwX0FCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla"))
	f.Add([]byte(`"k": "a\nb\u0041\x41\\"`))
	f.Add([]byte("p%41ss%zz%"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range findSegments(in) {
			if s.start < 0 || s.end > len(in) || s.start > s.end {
				t.Fatalf("segment [%d,%d) outside %d bytes", s.start, s.end, len(in))
			}
		}
	})
}

// repeatReader yields n bytes of a repeated pattern, then tail.
type repeatReader struct {
	pattern []byte
	n       int64
	tail    []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		if len(r.tail) == 0 {
			return 0, io.EOF
		}
		k := copy(p, r.tail)
		r.tail = r.tail[k:]
		return k, nil
	}
	k := 0
	for k < len(p) && r.n > 0 {
		c := copy(p[k:min(len(p), k+int(min(r.n, int64(len(r.pattern)))))], r.pattern)
		k += c
		r.n -= int64(c)
	}
	return k, nil
}

// TestHugeLineBoundedMemory streams a single 200 MB line with a secret at
// its end: the secret is found at the right column and the scan allocates
// a small fraction of the input.
func TestHugeLineBoundedMemory(t *testing.T) {
	e := testEngine(t)
	tok := ghToken(rand.New(rand.NewSource(9)))
	const size = 200 << 20
	in := &repeatReader{pattern: []byte("v=1;"), n: size, tail: []byte(" " + tok)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got []Position
	if err := e.ScanStream(in, Target{}, func(m Match, p Position) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(got) != 1 || got[0].Line != 1 || got[0].Column != size+2 {
		t.Fatalf("got %+v, want one match at 1:%d", got, size+2)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("allocated %d MiB scanning a 200 MiB line: memory is not bounded", alloc>>20)
	}
}

func BenchmarkScanSource(b *testing.B) {
	e := testEngine(b)
	src, err := os.ReadFile(filepath.Join(goroot(b), "src", "net", "http", "server.go"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		e.Scan(src, Target{})
	}
}

func TestGenericRejectsCode(t *testing.T) {
	e := testEngine(t)
	for _, in := range []string{
		"password := encryptionKey1024\n",
		"password = dk.encryptionKey1024\n",
		"password: Bug4Secret{1}\n",
		"password = getPassword(ctx)\n",
	} {
		if ms := e.Scan([]byte(in), Target{}); len(ms) != 0 {
			t.Errorf("%q: reported %q", in, ms[0].Secret)
		}
	}
	if ms := e.Scan([]byte("password = Xk3!vQ9wLm2p\n"), Target{}); len(ms) != 1 {
		t.Error("a real-looking password was dropped")
	}
}

// TestPEMBodiesWithPlusAndSlash: base64 lines may begin or end with + or
// /, which an earlier version trimmed, missing about a third of real keys.
func TestPEMBodiesWithPlusAndSlash(t *testing.T) {
	e := testEngine(t)
	body := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xef, 0xbe, 0x30, 0x82}, 60))
	var lines []string
	for len(body) > 64 {
		lines, body = append(lines, body[:64]), body[64:]
	}
	lines = append(lines, body)
	key := "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Join(lines, "\n") + "\n-----END RSA PRIVATE KEY-----\n"
	if !strings.Contains(key, "\n+") && !strings.Contains(key, "+\n") {
		t.Fatal("fixture has no line starting or ending with +")
	}
	if ms := e.Scan([]byte(key), Target{}); len(ms) != 1 {
		t.Fatalf("got %d matches", len(ms))
	}
}

// longLineOfSecrets is a multi-megabyte single line (a minified bundle)
// holding thousands of secrets.
func longLineOfSecrets() []byte {
	r := rand.New(rand.NewSource(3))
	var b bytes.Buffer
	for b.Len() < 3<<20 {
		fmt.Fprintf(&b, "var a=%q;password=%q;", ghToken(r), fmt.Sprintf("Xq%dZ!v9w", r.Intn(1e6)))
	}
	return b.Bytes()
}

// TestManyMatchesOnOneLongLine: every secret on one long line is found.
// (Per-match work once grew with the line: BenchmarkManyMatchesLongLine
// shows the cost, 6.7 s for 3 MB before the fix, 0.4 s after.)
func TestManyMatchesOnOneLongLine(t *testing.T) {
	ms := testEngine(t).Scan(longLineOfSecrets(), Target{})
	tokens, passwords := 0, 0
	for _, m := range ms {
		switch m.RuleID {
		case "github-pat":
			tokens++
		case "generic-password":
			passwords++
		}
	}
	if tokens < 1000 || passwords < 1000 {
		t.Fatalf("got %d tokens and %d passwords", tokens, passwords)
	}
}

func BenchmarkManyMatchesLongLine(b *testing.B) {
	e := testEngine(b)
	in := longLineOfSecrets()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		e.Scan(in, Target{})
	}
}
