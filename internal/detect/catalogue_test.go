package detect

import (
	"regexp"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/rules"
)

// TestCatalogueExamples runs the whole embedded catalogue over every
// rule's examples and counter-examples: each example must be found by its
// own rule, and no counter-example may be.
func TestCatalogueExamples(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Run(r.ID, func(t *testing.T) {
			if len(r.Examples) == 0 {
				t.Fatal("rule has no examples")
			}
			for _, ex := range r.Examples {
				found := false
				for _, m := range e.Scan([]byte(ex), Target{}) {
					found = found || m.RuleID == r.ID
				}
				if !found {
					var got []string
					for _, m := range e.Scan([]byte(ex), Target{}) {
						got = append(got, m.RuleID)
					}
					t.Errorf("example not found by %s (found by %v):\n%s", r.ID, got, ex)
				}
			}
			for _, ex := range r.CounterExamples {
				for _, m := range e.Scan([]byte(ex), Target{}) {
					if m.RuleID == r.ID {
						t.Errorf("counter-example matched as %q:\n%s", m.Secret, ex)
					}
				}
			}
		})
	}
}

func TestCatalogueSize(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	providers, generic := 0, 0
	for _, r := range rs {
		if r.Generic {
			generic++
		} else {
			providers++
		}
		if r.Description == "" || r.Hint == "" {
			t.Errorf("rule %s: description and hint are required", r.ID)
		}
	}
	if providers < 150 || generic == 0 {
		t.Fatalf("catalogue has %d provider rules and %d generic: want at least 150 and some generic", providers, generic)
	}
}

// TestCatalogueKeywordsCoverSeparators: a pattern written a[_.-]?b must
// have a keyword inside each spelling (a_b, a.b, a-b, ab), or the engine
// never runs it on the spellings without one (dd.api.key in Java
// properties was missed that way).
func TestCatalogueKeywordsCoverSeparators(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	sep := regexp.MustCompile(`([A-Za-z]{2,})\[_\.-\](\??)([A-Za-z]{2,})`)
	for _, r := range rs {
		for _, m := range sep.FindAllStringSubmatch(r.Regex, -1) {
			spellings := []string{"_", ".", "-"}
			if m[2] == "?" {
				spellings = append(spellings, "")
			}
			for _, s := range spellings {
				v := strings.ToLower(m[1] + s + m[3])
				covered := false
				for _, k := range r.Keywords {
					covered = covered || strings.Contains(v, k)
				}
				if !covered {
					t.Errorf("rule %s: no keyword occurs in %q", r.ID, v)
				}
			}
		}
	}
}
