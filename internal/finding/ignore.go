package finding

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var fingerprintPattern = regexp.MustCompile(`^lg1:[0-9a-f]{32}$`)

// ParseIgnore reads an ignore file: one fingerprint per line, optionally
// followed by a comment; blank lines and lines starting with # are
// skipped. A line that is not a fingerprint is an error, so a typo never
// silently ignores nothing (or everything).
func ParseIgnore(r io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fp, _, _ := strings.Cut(line, " ")
		fp, _, _ = strings.Cut(fp, "\t")
		if !fingerprintPattern.MatchString(fp) {
			// The line is not echoed: it may be a secret pasted by mistake.
			return nil, fmt.Errorf("line %d is not a fingerprint (want lg1: and 32 hex digits, then an optional comment)", n)
		}
		out[fp] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	return out, nil
}

// ParseBaseline reads a previous JSON report (as written by
// `leakguard scan --format json`) and returns its fingerprints.
func ParseBaseline(r io.Reader) (map[string]bool, error) {
	var rep struct {
		Findings *[]struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("parse baseline: %w", err)
	}
	if rep.Findings == nil {
		return nil, fmt.Errorf("parse baseline: no \"findings\" array: not a LeakGuard JSON report")
	}
	out := map[string]bool{}
	for i, f := range *rep.Findings {
		if !fingerprintPattern.MatchString(f.Fingerprint) {
			return nil, fmt.Errorf("parse baseline: finding %d: bad fingerprint %q", i, truncate(f.Fingerprint, 40))
		}
		out[f.Fingerprint] = true
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
