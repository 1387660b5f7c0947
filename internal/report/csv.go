package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

var csvHeader = []string{"rule_id", "confidence", "tier", "fingerprint", "secret", "identifier", "path", "line", "column", "decoded", "commit", "author", "email", "date"}

// writeCSV writes one row per location, so spreadsheets can filter by file.
func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, f := range r.Findings {
		for _, l := range f.Locations {
			row := []string{f.RuleID, f.Confidence, f.Tier, f.Fingerprint, csvSafe(f.Secret), f.Identifier,
				csvSafe(l.Path), strconv.Itoa(l.Line), strconv.Itoa(l.Column), strings.Join(l.Decoded, "/"),
				l.Commit, csvSafe(l.Author), csvSafe(l.Email), l.Date}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection from file names and
// authors under an attacker's control.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
