package mcp

import (
	"context"
	"io"
	"testing"
	"time"
)

// An answer waits for exactly the progress notifications queued before it
// to be written; other messages do not count.
func TestDeliveryWaitsForQueuedProgress(t *testing.T) {
	d := newDelivery()
	w := countingWriter{w: io.Discard, d: d}
	d.sent()
	d.sent()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		w.Write([]byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}"}]}}` + "\n"))
		w.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"progressToken":"t"}}` + "\n"))
		w.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{}}` + "\n"))
		w.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":2,"progressToken":"t"}}` + "\n"))
	}()
	d.wait(context.Background(), time.Hour) // returns only when both are written
	<-finished
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.written != 2 {
		t.Fatalf("written = %d, want 2", d.written)
	}
}

func TestDeliveryNilNeverWaits(t *testing.T) {
	var d *delivery
	d.sent()
	d.wait(context.Background(), time.Hour)
}
