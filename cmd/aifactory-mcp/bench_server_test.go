//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
)

// benchHome is an initialised home, as after the first run.
func benchHome(b *testing.B) []string {
	home := b.TempDir()
	env := []string{"AIFACTORY_HOME=" + home, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
	runBench(b, env, "", "init")
	return env
}

// rssMiB reads a live process's resident set (Linux).
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	return 0
}

func p50(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}

// BenchmarkColdStart spawns the server, sends initialize, initialized and
// tools/list at once, and stops the clock at the tools/list answer. It also
// reports the resident memory of one server left idle for two seconds
// after that answer (Linux).
func BenchmarkColdStart(b *testing.B) {
	env := benchHome(b)
	msgs := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	}, "\n") + "\n"
	var times []time.Duration
	var rss []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binPath)
		cmd.Env = env
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		io.WriteString(stdin, msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), `{"jsonrpc":"2.0","id":2,`) {
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		if runtime.GOOS == "linux" && i == b.N-1 {
			time.Sleep(2 * time.Second) // idle is what is measured
			rss = append(rss, rssMiB(cmd.Process.Pid))
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(p50(times), "p50-ms")
	if len(rss) > 0 {
		b.ReportMetric(rss[0], "idle-RSS-MiB")
	}
}

// BenchmarkProjectList calls project_list (a page of 50) over stdio against
// a store holding 10,000 projects of the caller's org.
func BenchmarkProjectList(b *testing.B) {
	env := benchHome(b)
	home := strings.TrimPrefix(env[0], "AIFACTORY_HOME=")
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(home, "aifactory.db"))
	if err != nil {
		b.Fatal(err)
	}
	org, err := db.OrgBySlug(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		p := &store.Project{OrgID: org.ID, Name: fmt.Sprintf("app%05d", i), Path: filepath.Join(home, "w", fmt.Sprintf("app%05d", i)),
			GitURL: fmt.Sprintf("https://git.example.com/org/app%05d.git", i), URLKey: fmt.Sprintf("git.example.com/org/app%05d", i),
			Source: store.SourceClone, Status: store.StatusReady, Branch: "main", Head: strings.Repeat("a", 40)}
		if err := db.InsertProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	// A bare JSON-RPC client over the pipes, so that what is timed is the
	// server's round trip and not a client library's decoding.
	cmd := exec.Command(binPath)
	cmd.Env = env
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	sc.Scan()
	// whoami is the floor: the same round trip and authentication, no query.
	for _, tool := range []string{"project_list", "whoami"} {
		b.Run("tool="+tool, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				fmt.Fprintf(stdin, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`+"\n", i+1, tool)
				if !sc.Scan() {
					b.Fatal("no answer")
				}
				times = append(times, time.Since(start))
				if !strings.Contains(sc.Text(), `"structuredContent"`) || strings.Contains(sc.Text(), `"isError":true`) {
					b.Fatalf("%s: %.300s", tool, sc.Text())
				}
			}
			b.ReportMetric(p50(times), "p50-ms")
		})
	}
}
