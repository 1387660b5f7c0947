// Package report writes scan results in LeakGuard's output formats: text
// for people, and JSON, JSON lines, SARIF 2.1.0 and CSV for machines. The
// machine formats are stable: fields are only ever added.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/leakguard/leakguard/internal/finding"
)

// Version is the JSON report schema version.
const Version = 1

// Report is a finished scan.
type Report struct {
	Tool     Tool              `json:"tool"`
	Scan     Summary           `json:"scan"`
	Findings []finding.Finding `json:"findings"`
}

// Tool names the program that made the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Summary describes what was scanned.
type Summary struct {
	Source        string   `json:"source"`
	Commits       int64    `json:"commits,omitempty"` // git sources
	Items         int64    `json:"items"`
	Bytes         int64    `json:"bytes"`
	SkippedBinary int64    `json:"skipped_binary"`
	SkippedLarge  int64    `json:"skipped_large"`
	Redacted      bool     `json:"redacted"`
	Complete      bool     `json:"complete"`
	Errors        []string `json:"errors,omitempty"`
	DurationMS    int64    `json:"duration_ms"`
}

// Formats lists the supported format names.
var Formats = []string{"text", "json", "jsonl", "sarif", "csv"}

// Write writes r to w in the named format.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "jsonl":
		return writeJSONL(w, r)
	case "sarif":
		return writeSARIF(w, r)
	case "csv":
		return writeCSV(w, r)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}
