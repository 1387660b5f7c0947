package detect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/leakguard/leakguard/internal/rules"
)

func catalogueEngine(b *testing.B) *Engine {
	rs, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(rs, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func sourceSample(b *testing.B) []byte {
	var all []byte
	for _, f := range []string{"net/http/server.go", "net/http/transport.go", "crypto/tls/handshake_client.go", "encoding/json/decode.go"} {
		src, err := os.ReadFile(filepath.Join(goroot(b), "src", f))
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, src...)
	}
	return all
}

// BenchmarkCatalogueScan is the hot path: the whole catalogue over real
// source code.
func BenchmarkCatalogueScan(b *testing.B) {
	e := catalogueEngine(b)
	src := sourceSample(b)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		e.Scan(src, Target{})
	}
}

func BenchmarkKeywordPass(b *testing.B) {
	e := catalogueEngine(b)
	src := sourceSample(b)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		e.kw.scan(src, func(int, int) {})
	}
}

func BenchmarkFindSegments(b *testing.B) {
	src := sourceSample(b)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		findSegments(src)
	}
}
