package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar draws files and bytes done on a terminal, ten times a second.
type progressBar struct {
	w                      io.Writer
	unit                   string
	totalItems, totalBytes int64
	items, bytes           atomic.Int64
	begin                  time.Time
	done                   chan struct{}
	wg                     sync.WaitGroup
}

// newProgressBar makes a bar over totalItems (named unit) and totalBytes;
// with totalBytes 0 the fraction is of items.
func newProgressBar(w io.Writer, unit string, totalItems, totalBytes int64) *progressBar {
	return &progressBar{w: w, unit: unit, totalItems: totalItems, totalBytes: totalBytes, done: make(chan struct{})}
}

// Add implements scan.Progress.
func (p *progressBar) Add(items int, bytes int64) {
	p.items.Add(int64(items))
	p.bytes.Add(bytes)
}

func (p *progressBar) start() {
	p.begin = time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

// stop erases the bar. It is safe on a nil bar.
func (p *progressBar) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
}

func (p *progressBar) draw() {
	b, items := p.bytes.Load(), p.items.Load()
	frac := 0.0
	switch {
	case p.totalBytes > 0:
		frac = min(1, float64(b)/float64(p.totalBytes))
	case p.totalItems > 0:
		frac = min(1, float64(items)/float64(p.totalItems))
	}
	if p.totalItems == 0 && p.totalBytes == 0 {
		fmt.Fprintf(p.w, "\r\033[Kscanned %d %s, %.1f MiB, %s", items, p.unit, float64(b)/(1<<20),
			time.Since(p.begin).Truncate(100*time.Millisecond))
		return
	}
	const width = 30
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%% %d/%d %s %.1f MiB %s",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100,
		items, p.totalItems, p.unit, float64(b)/(1<<20),
		time.Since(p.begin).Truncate(100*time.Millisecond))
}
