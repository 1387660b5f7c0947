package detect

import (
	"math/rand"
	"testing"
)

// naive finds keyword occurrences by brute force, as the oracle.
func naive(keywords []string, text []byte) map[[2]int]bool {
	got := map[[2]int]bool{}
	lt := make([]byte, len(text))
	for i, c := range text {
		lt[i] = lower(c)
	}
	for ki, k := range keywords {
		for i := 0; i+len(k) <= len(lt); i++ {
			if string(lt[i:i+len(k)]) == k {
				got[[2]int{ki, i + len(k)}] = true
			}
		}
	}
	return got
}

func TestKeywordMatcherAgainstBruteForce(t *testing.T) {
	keywords := []string{"akia", "ghp_", "password", "pass", "ss", "sword", "-----begin", "xoxb-"}
	m := newKeywordMatcher(keywords)
	r := rand.New(rand.NewSource(1))
	alphabet := []byte("akiAKIghp_PASSwordsWORD-begin xob\n")
	for n := 0; n < 500; n++ {
		text := make([]byte, r.Intn(200))
		for i := range text {
			text[i] = alphabet[r.Intn(len(alphabet))]
		}
		want := naive(keywords, text)
		got := map[[2]int]bool{}
		m.scan(text, func(kw, end int) { got[[2]int{kw, end}] = true })
		if len(got) != len(want) {
			t.Fatalf("text %q: got %d hits, want %d", text, len(got), len(want))
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("text %q: missing hit %v", text, k)
			}
		}
	}
}

func FuzzKeywordMatcher(f *testing.F) {
	keywords := []string{"akia", "ghp_", "password", "pass", "ss"}
	m := newKeywordMatcher(keywords)
	f.Add([]byte("password=AKIA ghp_"))
	f.Add([]byte{0, 0xff, 'p', 'a', 's', 's'})
	f.Fuzz(func(t *testing.T, text []byte) {
		want := naive(keywords, text)
		n := 0
		m.scan(text, func(kw, end int) {
			n++
			if !want[[2]int{kw, end}] {
				t.Fatalf("spurious hit %d at %d", kw, end)
			}
		})
		if n != len(want) {
			t.Fatalf("got %d hits, want %d", n, len(want))
		}
	})
}
