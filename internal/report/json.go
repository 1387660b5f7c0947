package report

import (
	"encoding/json"
	"io"

	"github.com/leakguard/leakguard/internal/finding"
)

type jsonReport struct {
	Version int `json:"version"`
	*Report
}

func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if r.Findings == nil {
		r.Findings = []finding.Finding{}
	}
	return enc.Encode(jsonReport{Version: Version, Report: r})
}

// writeJSONL writes one finding per line, nothing else: the stream a log
// pipeline ingests.
func writeJSONL(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	for _, f := range r.Findings {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}
