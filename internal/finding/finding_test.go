package finding

import (
	"strings"
	"sync"
	"testing"
)

func TestSetMergesBySecret(t *testing.T) {
	s := NewSet(nil)
	generic := Rule{ID: "generic-secret", Generic: true}
	aws := Rule{ID: "aws-access-key", Provider: "aws"}
	secret := "q8Jv2mKz9T/xR4wLp1NcH7sYf3GdE6bUa0ZiWoQn"
	s.Add(Candidate{Rule: generic, Secret: secret, Confidence: 1, Location: Location{Path: "b.env", Line: 9, Column: 1}})
	s.Add(Candidate{Rule: aws, Secret: secret, Confidence: 3, Identifier: "AKIARZPUZDIKC6T4U5BK", Location: Location{Path: "a.env", Line: 2, Column: 5}})
	s.Add(Candidate{Rule: aws, Secret: secret, Confidence: 3, Location: Location{Path: "a.env", Line: 2, Column: 5}})
	fs := s.Findings(true)
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	f := fs[0]
	if f.RuleID != "aws-access-key" || f.Confidence != "high" || f.Tier != "provider" || f.Identifier == "" {
		t.Fatalf("finding = %+v", f)
	}
	if len(f.Locations) != 2 || f.Locations[0].Path != "a.env" {
		t.Fatalf("locations = %+v", f.Locations)
	}
	if strings.Contains(f.Secret, secret[4:]) || f.Secret != "q8Jv*****" {
		t.Fatalf("secret not redacted: %q", f.Secret)
	}
	if got := s.Findings(false)[0].Secret; got != secret {
		t.Fatalf("unredacted secret = %q", got)
	}
}

func TestFingerprintIsContentBased(t *testing.T) {
	a, b := Fingerprint("s3cr3t-value-1"), Fingerprint("s3cr3t-value-2")
	if a == b || a != Fingerprint("s3cr3t-value-1") || !fingerprintPattern.MatchString(a) {
		t.Fatalf("fingerprints %s %s", a, b)
	}
}

func TestSetSkipsIgnored(t *testing.T) {
	s := NewSet(map[string]bool{Fingerprint("one"): true})
	if s.Add(Candidate{Secret: "one"}) || !s.Add(Candidate{Secret: "two"}) || s.Len() != 1 {
		t.Fatal("ignore set not applied")
	}
}

func TestSetConcurrent(t *testing.T) {
	s := NewSet(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				s.Add(Candidate{Secret: "shared-secret-9x", Location: Location{Path: "f", Line: g*1000 + i}})
			}
		}()
	}
	wg.Wait()
	if f := s.Findings(true); len(f) != 1 || len(f[0].Locations) != 800 {
		t.Fatalf("got %d findings", len(f))
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{"": "*****", "abc": "*****", "ghp_0123456789abcdef": "ghp_*****", "pässwörd12": "pä*****"} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseIgnore(t *testing.T) {
	fp := Fingerprint("x")
	got, err := ParseIgnore(strings.NewReader("# comment\n\n" + fp + " test fixture\n"))
	if err != nil || !got[fp] || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseIgnore(strings.NewReader("src/a.go:12\n")); err == nil {
		t.Fatal("line-number ignore accepted")
	}
	// A secret pasted into the ignore file is not echoed in the error.
	if _, err := ParseIgnore(strings.NewReader("ghp_Rk3v9QxT2mWb7LpZ4nYc8HsJ1dFg6A0000\n")); err == nil || strings.Contains(err.Error(), "Rk3v") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseBaseline(t *testing.T) {
	fp := Fingerprint("x")
	got, err := ParseBaseline(strings.NewReader(`{"version":1,"findings":[{"fingerprint":"` + fp + `"}]}`))
	if err != nil || !got[fp] {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "{}", `{"findings":[{"fingerprint":"abc"}]}`, "[1,2]"} {
		if _, err := ParseBaseline(strings.NewReader(bad)); err == nil {
			t.Errorf("baseline %q accepted", bad)
		}
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add("# c\nlg1:00112233445566778899aabbccddeeff note\n")
	f.Add("\x00\xff\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseIgnore(strings.NewReader(s))
		if err == nil {
			for fp := range got {
				if !fingerprintPattern.MatchString(fp) {
					t.Fatalf("accepted %q", fp)
				}
			}
		}
	})
}

func FuzzParseBaseline(f *testing.F) {
	f.Add(`{"findings":[{"fingerprint":"lg1:00112233445566778899aabbccddeeff"}]}`)
	f.Add(`{"findings":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseBaseline(strings.NewReader(s))
		if err == nil {
			for fp := range got {
				if !fingerprintPattern.MatchString(fp) {
					t.Fatalf("accepted %q", fp)
				}
			}
		}
	})
}

// BenchmarkSetAddManyLocations: one secret seen in many places (a token
// pasted into every fixture) must not make each Add slower than the last.
func BenchmarkSetAddManyLocations(b *testing.B) {
	for b.Loop() {
		s := NewSet(nil)
		for i := 0; i < 20000; i++ {
			s.Add(Candidate{Secret: "shared-secret-9x", Location: Location{Path: "f", Line: i}})
		}
	}
}
