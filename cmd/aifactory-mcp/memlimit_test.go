package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		files []string
		want  int64
	}{
		{"v2 limit", []string{write("v2", "536870912\n"), missing}, 512 << 20},
		{"v2 max", []string{write("v2max", "max\n"), write("v1a", "268435456\n")}, 0},
		{"v1 limit", []string{missing, write("v1", "268435456\n")}, 256 << 20},
		{"v1 unlimited", []string{missing, write("v1u", "9223372036854771712\n")}, 0},
		{"garbage", []string{write("bad", "lots\n")}, 0},
		{"none", []string{missing}, 0},
	} {
		if got := containerMemoryLimit(tc.files); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
