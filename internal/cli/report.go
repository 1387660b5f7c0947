package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/server"
)

// reportFindings posts the scan's findings to a LeakGuard service. Only
// fingerprints, redacted secrets and AWS key IDs (identifiers, not
// secrets) leave the machine.
func (a *App) reportFindings(run *scanRun) error {
	token := a.getenv("LEAKGUARD_REPORT_TOKEN")
	if token == "" {
		return errors.New("LEAKGUARD_REPORT_TOKEN is empty")
	}
	repo := run.opts.reportRepo
	if repo == "" {
		repo = run.summary.Source
	}
	body := server.FindingsReport{Repository: repo, Findings: []pipeline.Reported{}}
	for _, f := range run.set.Findings(false) {
		r := pipeline.Reported{RuleID: f.RuleID, Description: f.Description, Fingerprint: f.Fingerprint, Redacted: finding.Redact(f.Secret), KeyID: pipeline.AWSKeyID(f)}
		for _, l := range f.Locations {
			r.Locations = append(r.Locations, pipeline.ReportedLocation{Path: l.Path, Line: l.Line, Commit: l.Commit, Author: l.Author, Date: l.Date, URL: l.URL})
		}
		body.Findings = append(body.Findings, r)
	}
	if len(body.Findings) == 0 {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, run.opts.reportTo, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	client := a.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", run.opts.reportTo, resp.Status)
	}
	return nil
}
