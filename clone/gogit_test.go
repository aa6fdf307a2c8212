package clone

import (
	"runtime/debug"
	"testing"
)

// A go-git clone tightens GOGC while it runs — once for overlapping clones —
// and restores it; an operator's lower setting, or off, is left alone.
func TestTightenGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, start := range []int{100, 300, goGitGCPercent, 10, 0, -1} {
		debug.SetGCPercent(start)
		want := min(start, goGitGCPercent)
		if start < 0 {
			want = -1
		}
		first := tightenGC()
		second := tightenGC()
		if got := currentGCPercent(); got != want {
			t.Fatalf("from %d, during two clones: %d, want %d", start, got, want)
		}
		first()
		if got := currentGCPercent(); got != want {
			t.Fatalf("from %d, one clone still running: %d, want %d", start, got, want)
		}
		second()
		if got := currentGCPercent(); got != start {
			t.Fatalf("from %d, after the clones: %d", start, got)
		}
	}
}
