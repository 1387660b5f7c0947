package dashboard

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/incident"
)

// The timeline is an inline SVG with one or two panels, each an axis in
// seconds from the push drawn to scale. The first panel spans the whole
// response and, for AWS keys, AWS's own reference times; when LeakGuard's
// steps are too close together to read there, a second panel zooms in on
// them, still to scale.

// AWS's reference times for a key pushed to public GitHub: the
// AWSCompromisedKeyQuarantine policy is attached about 67 s after the
// push, the email arrives about 116 s after it.
const (
	awsQuarantineSeconds = 67
	awsEmailSeconds      = 116
)

// Geometry of the SVG, in user units (the SVG scales to the page width).
const (
	tlWidth    = 960.0
	tlLeft     = 24.0 // margin left of the axis
	tlRight    = 24.0 // margin right of the axis
	tlFontSize = 11.0
	tlCharW    = 0.62 * tlFontSize // monospace advance, a little generous
	tlRowH     = 17.0              // one row of labels
	tlPad      = 4.0               // between a marker's pole and its label
	tlGap      = 8.0               // between two labels on a row
	tlTitleH   = 22.0              // panel title
	tlPanelGap = 12.0
)

// lifecycle kinds happen hours or days later; they are drawn only when
// they fall on the response's axis.
var lifecycle = []string{incident.ResolvedEvent, incident.ReleasedEvent, incident.DismissedEvent}

// pipeline kinds are LeakGuard's own steps: the zoom panel spans them
// (and shows whatever else falls in its range, a failure for instance).
var pipeline = []string{
	incident.Pushed, incident.Received, incident.Detected, incident.ContainedEvent,
	incident.Verified, incident.Notified, incident.CaseOpened,
}

// kindOrder is the order markers are listed in, for equal times.
var kindOrder = []string{
	incident.Pushed, incident.Received, incident.Detected, incident.ContainedEvent,
	incident.Verified, incident.Notified, incident.CaseOpened, incident.FirstAttackerCall,
	incident.Failed, incident.ResolvedEvent, incident.ReleasedEvent, incident.DismissedEvent,
}

// timeline is the template's model of the SVG.
type timeline struct {
	Width, Height float64
	FontSize      float64
	From          string // "push" or "reception"
	Panels        []panel
	OffScale      []string // labels of events past the axis
	Reference     bool     // AWS's reference marks are drawn
}

// panel is one axis with its markers.
type panel struct {
	Title  string
	Y      float64 // top, in the SVG
	Height float64
	AxisY  float64 // relative to Y, as the other heights
	X0, X1 float64 // ends of the axis
	// Derived heights, for the template.
	TickEnd, TickLabelY, MarkerTop float64
	Ticks                          []tick
	Marks                          []mark
}

type tick struct {
	X     float64
	Label string
}

// mark is a marker and its label.
type mark struct {
	Kind    string // event kind, or "aws-quarantine" / "aws-email"
	Label   string // e.g. "contained +0.90 s"
	Tip     string // tooltip
	Ref     bool   // AWS's reference, drawn muted
	Seconds float64
	X       float64
	TextX   float64
	TextY   float64 // baseline, relative to the panel
	PoleTop float64
	Anchor  string // "start" or "end"

	row      int
	from, to float64 // horizontal extent of the label
}

// point is something to mark at a time.
type point struct {
	kind, label, tip string
	ref              bool
	sec              float64
}

// newTimeline lays out inc's timeline, offsets counted from t0.
func newTimeline(inc incident.Incident, t0 time.Time, from string) *timeline {
	var points []point
	seen := map[string]bool{}
	for _, e := range sortedEvents(inc.Events) {
		if seen[e.Kind] || e.At.IsZero() {
			continue // one marker per kind, at its first occurrence
		}
		seen[e.Kind] = true
		sec := e.At.Sub(t0).Seconds()
		name := strings.ReplaceAll(e.Kind, "_", " ")
		points = append(points, point{
			kind: e.Kind, sec: sec, label: name + " " + formatOffset(sec),
			tip: name + " at " + formatUTC(e.At) + " (" + formatOffset(sec) + " from " + from + ")",
		})
	}
	tl := &timeline{Width: tlWidth, FontSize: tlFontSize, From: from, Reference: inc.KeyID != ""}
	if tl.Reference {
		points = append(points,
			point{kind: "aws-quarantine", ref: true, sec: awsQuarantineSeconds, label: "AWS quarantine +67 s",
				tip: "AWS attaches its AWSCompromisedKeyQuarantine policy about 67 s after a push to public GitHub"},
			point{kind: "aws-email", ref: true, sec: awsEmailSeconds, label: "AWS email ≈+116 s",
				tip: "AWS's email to the account arrives about 116 s after the push"},
		)
	}

	// The overview spans everything but the late lifecycle events.
	lo, hi := 0.0, 0.0
	for _, p := range points {
		lo = min(lo, p.sec)
		if !slices.Contains(lifecycle, p.kind) {
			hi = max(hi, p.sec)
		}
	}
	step := niceStep(hi - lo)
	lo, hi = floorTo(lo, step), ceilTo(hi, step)
	if hi <= lo {
		hi = lo + step
	}
	var inRange []point
	for _, p := range points {
		if p.sec > hi {
			tl.OffScale = append(tl.OffScale, p.label)
			continue
		}
		inRange = append(inRange, p)
	}
	y := 0.0
	title := "Seconds from " + from + ", to scale"
	tl.Panels = append(tl.Panels, newPanel(title, y, lo, hi, step, inRange))
	y += tl.Panels[0].Height + tlPanelGap

	// Zoom in when LeakGuard's steps take under a quarter of the axis.
	zoomHi := 0.0
	for _, p := range inRange {
		if slices.Contains(pipeline, p.kind) {
			zoomHi = max(zoomHi, p.sec)
		}
	}
	if zoomHi > 0 {
		zoomHi *= 1.1 // room for the last label
		zstep := niceStep(zoomHi - lo)
		zlo, zhi := floorTo(lo, zstep), ceilTo(zoomHi, zstep)
		if 4*(zhi-zlo) <= hi-lo {
			var zoom []point
			for _, p := range inRange {
				if p.sec >= zlo && p.sec <= zhi {
					zoom = append(zoom, p)
				}
			}
			ztitle := "First " + formatTick(zhi, zstep) + " s, to scale"
			tl.Panels = append(tl.Panels, newPanel(ztitle, y, zlo, zhi, zstep, zoom))
			y += tl.Panels[1].Height + tlPanelGap
		}
	}
	tl.Height = y - tlPanelGap
	return tl
}

// sortedEvents returns events in time order, kinds in pipeline order on
// ties.
func sortedEvents(events []incident.Event) []incident.Event {
	rank := func(kind string) int {
		if i := slices.Index(kindOrder, kind); i >= 0 {
			return i
		}
		return len(kindOrder)
	}
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b incident.Event) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return rank(a.Kind) - rank(b.Kind)
	})
	return out
}

// newPanel lays out one axis from lo to hi seconds with ticks every step.
func newPanel(title string, top, lo, hi, step float64, points []point) panel {
	p := panel{Title: title, Y: top, X0: tlLeft, X1: tlWidth - tlRight}
	x := func(sec float64) float64 { return p.X0 + (sec-lo)/(hi-lo)*(p.X1-p.X0) }
	for i := 0; ; i++ {
		sec := lo + float64(i)*step
		if sec > hi+step/1e6 {
			break
		}
		p.Ticks = append(p.Ticks, tick{X: x(sec), Label: formatTick(sec, step) + " s"})
	}
	for _, pt := range points {
		p.Marks = append(p.Marks, mark{Kind: pt.kind, Label: pt.label, Tip: pt.tip, Ref: pt.ref, Seconds: pt.sec, X: x(pt.sec)})
	}
	rows := layoutLabels(p.Marks, tlWidth-4)
	p.AxisY = tlTitleH + tlFontSize + 12 + float64(rows-1)*tlRowH
	for i := range p.Marks {
		m := &p.Marks[i]
		m.TextY = p.AxisY - 12 - float64(m.row)*tlRowH
		m.PoleTop = m.TextY - tlFontSize + 2
	}
	p.TickEnd, p.TickLabelY, p.MarkerTop = p.AxisY+5, p.AxisY+18, p.AxisY-5
	p.Height = p.AxisY + 26
	return p
}

// layoutLabels places each mark's label on a row above the axis and
// returns the number of rows. A label starts just right of its marker's
// pole, or ends just left of it near the right edge. Rows are chosen so
// that no two labels on a row overlap and no pole crosses a label: a label
// goes above every marker whose pole passes under it.
func layoutLabels(marks []mark, maxX float64) int {
	for i := range marks {
		m := &marks[i]
		w := float64(utf8.RuneCountInString(m.Label)) * tlCharW
		if m.X+tlPad+w <= maxX {
			m.Anchor, m.TextX, m.from, m.to = "start", m.X+tlPad, m.X+tlPad, m.X+tlPad+w
		} else {
			m.Anchor, m.TextX, m.from, m.to = "end", m.X-tlPad, m.X-tlPad-w, m.X-tlPad
		}
	}
	// under reports whether k's marker lies under i's label (or so close
	// to i's that the labels would collide): i's label then goes on a
	// higher row, so k's pole does not cross it. Marks at the same x are
	// ordered by index, so earlier events stack above later ones.
	under := func(i, k int) bool {
		a, b := marks[i], marks[k]
		if k == i {
			return false
		}
		if a.Anchor == "start" {
			return (b.X > a.X || b.X == a.X && k > i) && b.X <= a.to+tlGap
		}
		return (b.X < a.X || b.X == a.X && k < i) && b.X >= a.from-tlGap
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(marks))
	var place func(i int) int
	place = func(i int) int {
		switch state[i] {
		case done:
			return marks[i].row
		case visiting:
			return -1 // a cycle (two labels over each other's poles): break it here
		}
		state[i] = visiting
		row := 0
		for k := range marks {
			if under(i, k) {
				row = max(row, place(k)+1)
			}
		}
		marks[i].row, state[i] = row, done
		return row
	}
	for i := range marks {
		place(i)
	}
	// Labels that neither cover the other's pole can still overlap, e.g.
	// one anchored at its start and one at its end: move one up.
	for moved := true; moved; {
		moved = false
		for i := range marks {
			for k := range marks {
				a, b := &marks[i], &marks[k]
				if i < k && a.row == b.row && a.from < b.to+tlGap && b.from < a.to+tlGap {
					b.row++
					moved = true
				}
			}
		}
	}
	rows := 1
	for _, m := range marks {
		rows = max(rows, m.row+1)
	}
	return rows
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten that cuts
// span into at most about ten intervals.
func niceStep(span float64) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / 10
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	default:
		return 10 * mag
	}
}

// floorTo rounds x down to a multiple of step, forgiving float error.
func floorTo(x, step float64) float64 { return math.Floor(x/step+1e-9) * step }

// ceilTo rounds x up to a multiple of step, forgiving float error.
func ceilTo(x, step float64) float64 { return math.Ceil(x/step-1e-9) * step }

// formatTick formats a tick's seconds with as many decimals as step needs.
func formatTick(sec, step float64) string {
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(sec) < step/1e6 {
		sec = 0 // not "-0"
	}
	return strconv.FormatFloat(sec, 'f', decimals, 64)
}
