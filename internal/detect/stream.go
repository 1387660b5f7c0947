package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Position is a 1-based line and column (in characters) in the input.
type Position struct {
	Line, Column int
	Offset       int64 // byte offset of the match start
}

// ChunkSize is how much of a stream ScanStream holds at once, besides the
// overlap it carries between chunks.
const ChunkSize = 4 << 20

// ScanStream scans r in chunks of ChunkSize with enough overlap that no
// match is cut, and calls emit for every match with its position, in
// order. Memory stays bounded by ChunkSize plus Overlap whatever the size
// of the input or the length of its lines. An error reading r is returned
// wrapped; matches already emitted stand.
func (e *Engine) ScanStream(r io.Reader, t Target, emit func(Match, Position)) error {
	return e.scanStream(r, t, ChunkSize, emit)
}

func (e *Engine) scanStream(r io.Reader, t Target, chunk int, emit func(Match, Position)) error {
	overlap := e.Overlap()
	chunk = max(chunk, overlap)
	buf := make([]byte, 0, chunk+overlap)
	var base int64 // stream offset of buf[0]
	line := 1      // line number at buf[0]
	col := 1       // column (characters) at buf[0]
	first := true
	for {
		// Fill the buffer up to chunk+overlap bytes, or to EOF.
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("read at byte %d: %w", base+int64(len(buf)), err)
		}
		// Matches starting at or past `core` are left to the next chunk,
		// which starts there.
		core := len(buf)
		if !eof {
			core = len(buf) - overlap
		}
		tt := t
		tt.Partial = !first
		pl, pc, pos := line, col, 0
		for _, m := range e.Scan(buf, tt) {
			if m.Start >= core {
				continue
			}
			if !first && m.Start < overlap/2 {
				continue // started before the previous core: emitted already
			}
			pl, pc = advance(buf[pos:m.Start], pl, pc)
			pos = m.Start
			emit(m, Position{Line: pl, Column: pc, Offset: base + int64(m.Start)})
		}
		if eof {
			return nil
		}
		// Carry the tail: the next chunk begins overlap/2 bytes before core
		// so that matches straddling core are seen whole there, and those
		// wholly before it were emitted here.
		keep := core - overlap/2
		line, col = advance(buf[:keep], line, col)
		base += int64(keep)
		buf = buf[:copy(buf, buf[keep:])]
		first = false
	}
}

// advance moves a line/column position over b.
func advance(b []byte, line, col int) (int, int) {
	if n := bytes.Count(b, []byte{'\n'}); n > 0 {
		line += n
		b = b[bytes.LastIndexByte(b, '\n')+1:]
		col = 1
	}
	return line, col + utf8.RuneCount(b)
}

// ScanBuffer scans buf whole and calls emit for every match with its
// position, in order. Use it for inputs that fit in memory; ScanStream
// for the rest.
func (e *Engine) ScanBuffer(buf []byte, t Target, emit func(Match, Position)) {
	line, col, pos := 1, 1, 0
	for _, m := range e.Scan(buf, t) {
		line, col = advance(buf[pos:m.Start], line, col)
		pos = m.Start
		emit(m, Position{Line: line, Column: col, Offset: int64(m.Start)})
	}
}
