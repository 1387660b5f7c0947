package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/scan"
)

// progressBar draws files and bytes done on a terminal, ten times a second.
type progressBar struct {
	w                      io.Writer
	totalItems, totalBytes int64
	items, bytes           atomic.Int64
	begin                  time.Time
	done                   chan struct{}
	wg                     sync.WaitGroup
}

func newProgressBar(w io.Writer, files []scan.File) *progressBar {
	p := &progressBar{w: w, totalItems: int64(len(files)), done: make(chan struct{})}
	for _, f := range files {
		p.totalBytes += f.Size
	}
	return p
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
	if p.totalBytes > 0 {
		frac = min(1, float64(b)/float64(p.totalBytes))
	}
	const width = 30
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%% %d/%d files %.1f/%.1f MiB %s",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100,
		items, p.totalItems, float64(b)/(1<<20), float64(p.totalBytes)/(1<<20),
		time.Since(p.begin).Truncate(100*time.Millisecond))
}
