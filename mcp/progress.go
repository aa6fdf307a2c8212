package mcp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/mark3labs/mcp-go/mcp"
)

// progressEvery spaces notifications within one phase; a phase change is
// always sent. Git reports every percent of every phase, which would be
// hundreds of messages for the client to render.
const progressEvery = 250 * time.Millisecond

// deliveryWait bounds how long an answer waits for its progress
// notifications to be written (a client that stops reading stdout would
// block the answer as well).
const deliveryWait = 2 * time.Second

// progress returns the callback that sends notifications/progress for the
// request's progress token (nil when it has none), and done, to be called
// before the tool answers. The protocol wants a request's progress to end
// with its answer, so done stops the callback — a clone that goes on after
// an answer of status "cloning" reports nothing more — and waits until the
// notifications already sent have been written: mcp-go writes them from a
// queue but the answer directly, so one sent just before the answer could
// otherwise follow it, where clients no longer listen for its token.
func (s *Server) progress(ctx context.Context, req mcp.CallToolRequest) (report func(clone.Progress), done func()) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return nil, func() {}
	}
	token := req.Params.Meta.ProgressToken
	var mu sync.Mutex
	n, phase, last, ended := 0, "", time.Time{}, false
	report = func(p clone.Progress) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if ended || p.Phase == phase && now.Sub(last) < progressEvery {
			return
		}
		n, phase, last = n+1, p.Phase, now
		msg := p.Phase
		if p.Percent >= 0 {
			msg = fmt.Sprintf("%s %d%%", p.Phase, p.Percent)
		}
		err := s.mcp.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
			"progressToken": token, "progress": n, "message": msg,
		})
		if err == nil {
			s.delivery.sent()
		}
	}
	done = func() {
		mu.Lock()
		ended = true
		mu.Unlock()
		s.delivery.wait(ctx, deliveryWait)
	}
	return report, done
}

// progressPrefix starts every progress notification mcp-go writes.
var progressPrefix = []byte(`{"jsonrpc":"2.0","method":"notifications/progress"`)

// delivery counts progress notifications sent to mcp-go's queue and those
// written to the client, so an answer can wait for the ones before it. A
// nil delivery (the server not on stdio) counts nothing and never waits.
type delivery struct {
	mu              sync.Mutex
	queued, written uint64
	changed         chan struct{}
}

func newDelivery() *delivery { return &delivery{changed: make(chan struct{})} }

func (d *delivery) sent() {
	if d != nil {
		d.mu.Lock()
		d.queued++
		d.mu.Unlock()
	}
}

func (d *delivery) wrote() {
	d.mu.Lock()
	d.written++
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// wait returns once every notification queued so far has been written, ctx
// ends, or max has passed.
func (d *delivery) wait(ctx context.Context, max time.Duration) {
	if d == nil {
		return
	}
	d.mu.Lock()
	target := d.queued
	d.mu.Unlock()
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		d.mu.Lock()
		reached, changed := d.written >= target, d.changed
		d.mu.Unlock()
		if reached {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

// countingWriter is the server's stdout, noting each progress notification
// written. mcp-go writes every message with one Write.
type countingWriter struct {
	w io.Writer
	d *delivery
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if bytes.HasPrefix(p, progressPrefix) {
		c.d.wrote()
	}
	return n, err
}
