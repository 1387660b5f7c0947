package cloudtrail

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Summarize condenses events into a Summary. LeakGuard's own key checks
// (Event.Self) are left out of every figure: they are not the attacker's
// calls. The distinct lists keep the order of first appearance in events,
// which is time order for events from Activity or ReadTrail.
func Summarize(events []Event) Summary {
	s := Summary{SourceIPs: []string{}, UserAgents: []string{}, Succeeded: []string{}}
	ips, agents, succeeded := map[string]bool{}, map[string]bool{}, map[string]bool{}
	addOnce := func(seen map[string]bool, list *[]string, v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			*list = append(*list, v)
		}
	}
	for _, e := range events {
		if e.Self() {
			continue
		}
		s.Calls++
		switch {
		case e.ErrorCode == "":
			s.Allowed++
			addOnce(succeeded, &s.Succeeded, e.Service+":"+e.Name)
		case e.Denied():
			s.Denied++
		default:
			s.Failed++
		}
		if s.First.IsZero() || e.Time.Before(s.First) {
			s.First = e.Time
		}
		if e.Time.After(s.Last) {
			s.Last = e.Time
		}
		addOnce(ips, &s.SourceIPs, e.SourceIP)
		addOnce(agents, &s.UserAgents, e.UserAgent)
	}
	return s
}

// maxAgent is how many characters of a User-Agent the timeline shows.
const maxAgent = 40

// WriteTimeline writes events as a table, one call a line: time (UTC),
// seconds after since (the column is left out when since is zero),
// service, call, region, source IP, User-Agent (shortened) and outcome,
// "OK" or the error code. LeakGuard's own key checks are listed, marked
// "(leakguard)". Characters that are not printable, which an attacker
// can put in a User-Agent, are shown as '?'.
func WriteTimeline(w io.Writer, events []Event, since time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"TIME (UTC)", "T+", "SERVICE", "EVENT", "REGION", "SOURCE IP", "USER AGENT", "OUTCOME"}
	if since.IsZero() {
		header = append(header[:1:1], header[2:]...)
	}
	if _, err := fmt.Fprintln(tw, strings.Join(header, "\t")); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	for _, e := range events {
		outcome := "OK"
		if e.ErrorCode != "" {
			outcome = e.ErrorCode
		}
		if e.Self() {
			outcome += " (leakguard)"
		}
		row := []string{e.Time.UTC().Format(time.RFC3339)}
		if !since.IsZero() {
			row = append(row, fmt.Sprintf("%+ds", int64(e.Time.Sub(since)/time.Second)))
		}
		row = append(row, e.Service, e.Name, e.Region, e.SourceIP, shorten(e.UserAgent, maxAgent), outcome)
		for i := range row {
			row[i] = printable(row[i])
		}
		if _, err := fmt.Fprintln(tw, strings.Join(row, "\t")); err != nil {
			return fmt.Errorf("write timeline: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

// shorten cuts s to n characters, ending in "…" when it cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// printable replaces characters that are not printable (controls,
// tabs, newlines, escape sequences' introducers) with '?', and empty
// fields with "-", so the table keeps its shape.
func printable(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}
