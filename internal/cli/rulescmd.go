package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/leakguard/leakguard/internal/rules"
)

const rulesUsage = `Usage:
  leakguard rules [--format text|json]

List the built-in detection rules: id, confidence, tier and description.

Examples:
  leakguard rules
  leakguard rules --format json | jq -r '.[].id'

Flags:
`

func (a *App) listRules(args []string) error {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	format := fs.String("format", "text", "output format: text or json")
	fs.Usage = func() { fmt.Fprint(fs.Output(), rulesUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	rs, err := rules.Default()
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		type entry struct {
			ID          string   `json:"id"`
			Description string   `json:"description"`
			Provider    string   `json:"provider,omitempty"`
			Confidence  string   `json:"confidence"`
			Generic     bool     `json:"generic"`
			Keywords    []string `json:"keywords"`
			Validator   string   `json:"validator,omitempty"`
		}
		out := make([]entry, 0, len(rs))
		for _, r := range rs {
			out = append(out, entry{r.ID, r.Description, r.Provider, r.Confidence.String(), r.Generic, r.Keywords, r.Validator})
		}
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "text":
		tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCONFIDENCE\tTIER\tDESCRIPTION")
		for _, r := range rs {
			tier := "provider"
			if r.Generic {
				tier = "generic"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Confidence, tier, r.Description)
		}
		fmt.Fprintf(tw, "\n%d rules\n", len(rs))
		return tw.Flush()
	}
	return usagef("rules: unknown format %q", *format)
}
