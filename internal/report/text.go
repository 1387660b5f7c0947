package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// writeText writes findings for people: where, what, and what to do.
func writeText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	for _, f := range r.Findings {
		first := f.Locations[0]
		fmt.Fprintf(bw, "%s:%d:%d: %s (%s confidence) %s\n", first.Path, first.Line, first.Column, f.RuleID, f.Confidence, f.Description)
		fmt.Fprintf(bw, "    secret      %s\n", f.Secret)
		if f.Identifier != "" {
			fmt.Fprintf(bw, "    identifier  %s\n", f.Identifier)
		}
		keys := make([]string, 0, len(f.Attributes))
		for k := range f.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(bw, "    %-11s %s\n", strings.ReplaceAll(k, "_", " "), f.Attributes[k])
		}
		fmt.Fprintf(bw, "    fingerprint %s\n", f.Fingerprint)
		for i, l := range f.Locations {
			prefix := "    seen at    "
			if i == 0 {
				prefix = "    found at   "
			}
			fmt.Fprintf(bw, "%s%s:%d:%d", prefix, l.Path, l.Line, l.Column)
			if len(l.Decoded) > 0 {
				fmt.Fprintf(bw, " (inside %s)", strings.Join(l.Decoded, " inside "))
			}
			if l.Commit != "" {
				fmt.Fprintf(bw, " commit %.12s by %s <%s> %s", l.Commit, l.Author, l.Email, l.Date)
			}
			fmt.Fprintln(bw)
		}
		hint := f.Hint
		if hint == "" {
			hint = "Rotate this credential, then remove it from the code; treat it as compromised."
		}
		fmt.Fprintf(bw, "    what to do  %s\n\n", hint)
	}
	return bw.Flush()
}

// WriteSummary writes the one-line summary for people (to stderr).
func WriteSummary(w io.Writer, r *Report) {
	locs := 0
	for _, f := range r.Findings {
		locs += len(f.Locations)
	}
	s := r.Scan
	state := ""
	if !s.Complete {
		state = " INCOMPLETE:"
	}
	fmt.Fprintf(w, "leakguard:%s %d secret(s) in %d location(s); scanned %d item(s), %s in %.2fs",
		state, len(r.Findings), locs, s.Items, humanBytes(s.Bytes), float64(s.DurationMS)/1000)
	if s.SkippedBinary > 0 || s.SkippedLarge > 0 {
		fmt.Fprintf(w, " (skipped %d binary, %d over size limit)", s.SkippedBinary, s.SkippedLarge)
	}
	fmt.Fprintln(w)
	for _, e := range s.Errors {
		fmt.Fprintf(w, "leakguard: error: %s\n", e)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
