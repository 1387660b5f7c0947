package dashboard

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/incident"
)

func TestFormatOffset(t *testing.T) {
	for sec, want := range map[float64]string{
		0: "+0.00 s", 0.84: "+0.84 s", 9.994: "+9.99 s", 13: "+13.0 s", 67: "+67.0 s", 116: "+116 s", 10800: "+10800 s", -0.5: "-0.50 s",
	} {
		if got := formatOffset(sec); got != want {
			t.Errorf("formatOffset(%v) = %q, want %q", sec, got, want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for span, want := range map[float64]float64{0: 1, 1: 0.1, 1.6: 0.2, 1.76: 0.2, 4: 0.5, 13: 2, 116: 20, 10800: 2000} {
		if got := niceStep(span); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceStep(%v) = %v, want %v", span, got, want)
		}
	}
}

// timelineIncident is an AWS key incident with LeakGuard's steps in the
// first 1.6 s and the attacker at 13 s.
func timelineIncident() (incident.Incident, time.Time) {
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	ev := func(sec float64, kind string) incident.Event {
		return incident.Event{At: t0.Add(time.Duration(sec * float64(time.Second))), Kind: kind}
	}
	return incident.Incident{
		KeyID: "AKIA4GQ7XBZL2NWRT6HY",
		Events: []incident.Event{
			ev(1.6, incident.Notified), // out of order on purpose
			ev(0, incident.Pushed), ev(0.2, incident.Received), ev(0.4, incident.Detected),
			ev(0.9, incident.ContainedEvent), ev(1.1, incident.Verified),
			ev(13, incident.FirstAttackerCall), ev(20, incident.Failed), ev(30, incident.Failed),
			ev(3*3600, incident.ResolvedEvent),
		},
	}, t0
}

func TestTimelineIsToScale(t *testing.T) {
	inc, t0 := timelineIncident()
	tl := newTimeline(inc, t0, "push")
	if len(tl.Panels) != 2 {
		t.Fatalf("%d panels, want the whole response and a zoom", len(tl.Panels))
	}
	whole, zoom := tl.Panels[0], tl.Panels[1]
	if last := whole.Ticks[len(whole.Ticks)-1].Label; last != "120 s" {
		t.Errorf("the axis ends at %s, want 120 s (widened to AWS's 116 s email)", last)
	}
	if last := zoom.Ticks[len(zoom.Ticks)-1].Label; last != "1.8 s" {
		t.Errorf("the zoom ends at %s, want 1.8 s", last)
	}
	check := func(p panel, hi float64) map[string]mark {
		byKind := map[string]mark{}
		for _, m := range p.Marks {
			if _, dup := byKind[m.Kind]; dup {
				t.Errorf("%s: two markers for %s", p.Title, m.Kind)
			}
			byKind[m.Kind] = m
			want := p.X0 + m.Seconds/hi*(p.X1-p.X0)
			if math.Abs(m.X-want) > 1e-9 {
				t.Errorf("%s: %s at x=%.2f, want %.2f", p.Title, m.Kind, m.X, want)
			}
		}
		return byKind
	}
	w := check(whole, 120)
	for kind, label := range map[string]string{
		"pushed": "pushed +0.00 s", "contained": "contained +0.90 s", "notified": "notified +1.60 s",
		"first_attacker_call": "first attacker call +13.0 s", "failed": "failed +20.0 s",
		"aws-quarantine": "AWS quarantine +67 s", "aws-email": "AWS email ≈+116 s",
	} {
		if w[kind].Label != label {
			t.Errorf("whole response: %s labelled %q, want %q", kind, w[kind].Label, label)
		}
	}
	if !w["aws-quarantine"].Ref || w["contained"].Ref {
		t.Error("only AWS's marks are references")
	}
	if _, ok := w["resolved"]; ok || len(tl.OffScale) != 1 || tl.OffScale[0] != "resolved +10800 s" {
		t.Errorf("the resolution 3 h later: off scale %q", tl.OffScale)
	}
	z := check(zoom, 1.8)
	if _, ok := z["first_attacker_call"]; ok || len(z) != 6 {
		t.Errorf("zoom shows %d markers, want LeakGuard's 6 steps", len(z))
	}

	// Without a key ID there is no AWS reference, and a short axis needs
	// no zoom.
	inc.KeyID = ""
	inc.Events = inc.Events[:6]
	tl = newTimeline(inc, t0, "push")
	if tl.Reference || len(tl.Panels) != 1 {
		t.Errorf("non-AWS timeline: reference %v, %d panels", tl.Reference, len(tl.Panels))
	}
	for _, m := range tl.Panels[0].Marks {
		if strings.HasPrefix(m.Kind, "aws-") {
			t.Errorf("non-AWS timeline has %s", m.Kind)
		}
	}
}

func TestTimelineBeforePush(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	inc := incident.Incident{Events: []incident.Event{
		{At: t0.Add(-700 * time.Millisecond), Kind: incident.Received}, // a push timestamp a little late
		{At: t0, Kind: incident.Pushed},
		{At: t0.Add(time.Second), Kind: incident.Detected},
	}}
	tl := newTimeline(inc, t0, "push")
	p := tl.Panels[0]
	if p.Ticks[0].Label != "-0.8 s" && p.Ticks[0].Label != "-1.0 s" {
		t.Errorf("the axis starts at %s, want it to include -0.7 s", p.Ticks[0].Label)
	}
	for _, m := range p.Marks {
		if m.X < p.X0 || m.X > p.X1 {
			t.Errorf("%s at x=%.1f, off the axis [%.1f, %.1f]", m.Kind, m.X, p.X0, p.X1)
		}
	}
}

// TestLayoutLabels checks the label layout on random clusters: labels on a
// row never overlap, and while all labels start right of their marker, no
// marker's pole crosses a label.
func TestLayoutLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(12)
		allStart := trial%2 == 0
		var marks []mark
		for range n {
			x := tlLeft + rng.Float64()*(tlWidth-tlLeft-tlRight)
			if allStart {
				x = tlLeft + rng.Float64()*300 // room for every label to start at its marker
			}
			if rng.IntN(4) == 0 && len(marks) > 0 {
				x = marks[rng.IntN(len(marks))].X // same instant as another
			}
			marks = append(marks, mark{X: x, Label: strings.Repeat("x", 5+rng.IntN(25))})
		}
		rows := layoutLabels(marks, tlWidth-4)
		for i, a := range marks {
			if a.row < 0 || a.row >= rows {
				t.Fatalf("trial %d: row %d outside [0, %d)", trial, a.row, rows)
			}
			if a.from < 0 || a.to > tlWidth {
				t.Errorf("trial %d: label [%.0f, %.0f] leaves the SVG", trial, a.from, a.to)
			}
			if math.Abs(a.from-(a.X+tlPad)) > 1e-9 && math.Abs(a.to-(a.X-tlPad)) > 1e-9 {
				t.Errorf("trial %d: label [%.0f, %.0f] is not at its marker %.0f", trial, a.from, a.to, a.X)
			}
			for k, b := range marks {
				if k != i && a.row == b.row && a.from < b.to && b.from < a.to {
					t.Errorf("trial %d: labels at %.0f and %.0f overlap on row %d", trial, a.X, b.X, a.row)
				}
				if allStart && k != i && b.X > a.from && b.X < a.to && b.row > a.row {
					t.Errorf("trial %d: the pole at %.0f (row %d) crosses the label of %.0f (row %d)", trial, b.X, b.row, a.X, a.row)
				}
			}
		}
	}
}
