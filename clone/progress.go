package clone

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
)

// Progress phases.
const (
	PhaseConnecting  = "connecting"
	PhaseEnumerating = "enumerating"
	PhaseCounting    = "counting"
	PhaseCompressing = "compressing"
	PhaseReceiving   = "receiving"
	PhaseResolving   = "resolving"
	PhaseCheckout    = "checkout"
	PhaseDone        = "done"
)

// Progress is one progress report of a clone or fetch. Percent is -1 when
// the phase has no known total.
type Progress struct {
	Phase   string
	Percent int
	Message string
}

// progressLabels map git's progress labels, lower-cased, to phases.
var progressLabels = []struct{ prefix, phase string }{
	{"enumerating", PhaseEnumerating},
	{"counting", PhaseCounting},
	{"compressing", PhaseCompressing},
	{"receiving", PhaseReceiving},
	{"resolving", PhaseResolving},
	{"updating files", PhaseCheckout},
}

// ParseProgressLine parses one line of Git's sideband progress, such as
// "Counting objects:  45% (9/20)" or "Compressing objects: 100% (5/5), done.".
func ParseProgressLine(line string) (Progress, bool) {
	line = strings.TrimSpace(line)
	line = strings.TrimSpace(strings.TrimPrefix(line, "remote:")) // the git CLI's relay of the server's lines
	colon := strings.IndexByte(line, ':')
	if colon <= 0 || colon > 40 {
		return Progress{}, false
	}
	label := strings.ToLower(line[:colon])
	phase := ""
	for _, l := range progressLabels {
		if strings.HasPrefix(label, l.prefix) {
			phase = l.phase
			break
		}
	}
	if phase == "" {
		return Progress{}, false
	}
	p := Progress{Phase: phase, Percent: -1, Message: line}
	rest := line[colon+1:]
	if pct := strings.IndexByte(rest, '%'); pct > 0 {
		i := pct
		for i > 0 && rest[i-1] >= '0' && rest[i-1] <= '9' {
			i--
		}
		if n, err := strconv.Atoi(rest[i:pct]); err == nil && n >= 0 && n <= 100 {
			p.Percent = n
		}
	}
	return p, true
}

// progressWriter receives go-git's sideband progress (lines ended by \r or
// \n, possibly split across writes) and reports parsed lines.
type progressWriter struct {
	mu   sync.Mutex
	fn   func(Progress)
	buf  []byte
	last Progress
}

func newProgressWriter(fn func(Progress)) *progressWriter { return &progressWriter{fn: fn} }

func (w *progressWriter) Write(b []byte) (int, error) {
	if w.fn == nil {
		return len(b), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexAny(w.buf, "\r\n")
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if p, ok := ParseProgressLine(line); ok && p != w.last {
			w.last = p
			w.fn(p)
		}
	}
	if len(w.buf) > 4096 { // no line ending in sight: not progress
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

func (w *progressWriter) emit(p Progress) {
	if w.fn != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.fn(p)
	}
}
