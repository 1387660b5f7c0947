package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
)

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	Results    []sarifResult `json:"results"`
	ColumnKind string        `json:"columnKind"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

func level(confidence string) string {
	if confidence == "low" {
		return "warning"
	}
	return "error"
}

// sarifURI makes a relative URI reference from a path (no leading ./),
// or ./path when the first segment holds a colon and would read as a
// URI scheme.
func sarifURI(p string) string {
	p = path.Clean(strings.TrimPrefix(p, "./"))
	if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ":") && !strings.HasPrefix(p, "/") {
		p = "./" + p
	}
	return (&url.URL{Path: p}).EscapedPath()
}

func writeSARIF(w io.Writer, r *Report) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: r.Tool.Name, Version: r.Tool.Version,
			InformationURI: "https://github.com/leakguard/leakguard",
			Rules:          []sarifRule{},
		}},
		Results:    []sarifResult{},
		ColumnKind: "unicodeCodePoints",
	}
	index := map[string]int{}
	for _, f := range r.Findings {
		ri, ok := index[f.RuleID]
		if !ok {
			ri = len(run.Tool.Driver.Rules)
			index[f.RuleID] = ri
			help := f.Hint
			if help == "" {
				help = "Rotate the credential and remove it from the code."
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
				ID: f.RuleID, Name: f.RuleID,
				ShortDescription:     sarifText{f.Description},
				Help:                 sarifText{help},
				DefaultConfiguration: sarifConfig{Level: level(f.Confidence)},
				Properties:           map[string]any{"tags": []string{"security", "secret", f.Tier}, "security-severity": "9.0"},
			})
		}
		res := sarifResult{
			RuleID: f.RuleID, RuleIndex: ri, Level: level(f.Confidence),
			Message:             sarifText{fmt.Sprintf("%s (%s confidence): %s", f.Description, f.Confidence, f.Secret)},
			PartialFingerprints: map[string]string{"leakguardSecret/v1": f.Fingerprint},
			Properties:          map[string]any{"confidence": f.Confidence, "tier": f.Tier},
		}
		if f.Identifier != "" {
			res.Properties["identifier"] = f.Identifier
		}
		for _, l := range f.Locations {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: sarifURI(l.Path)},
				Region:           sarifRegion{StartLine: max(1, l.Line), StartColumn: max(1, l.Column)},
			}}
			props := map[string]any{}
			for k, v := range map[string]string{"commit": l.Commit, "author": l.Author, "email": l.Email, "date": l.Date, "url": l.URL} {
				if v != "" {
					props[k] = v
				}
			}
			if len(l.Decoded) > 0 {
				props["decoded"] = l.Decoded
			}
			if len(props) > 0 {
				loc.Properties = props
			}
			res.Locations = append(res.Locations, loc)
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}
