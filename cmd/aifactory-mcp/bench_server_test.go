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

// coldStartMsgs are initialize, initialized and tools/list, sent at once.
var coldStartMsgs = strings.Join([]string{
	`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
}, "\n") + "\n"

// startServer spawns an MCP server on stdio, sends coldStartMsgs and
// returns once tools/list is answered, with the time that took. Closing
// the returned stdin ends the server.
func startServer(b *testing.B, bin string, env []string) (*exec.Cmd, io.WriteCloser, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	io.WriteString(stdin, coldStartMsgs)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `{"jsonrpc":"2.0","id":2,`) {
			return cmd, stdin, time.Since(start)
		}
	}
	stdin.Close()
	cmd.Wait()
	b.Fatalf("%s never answered tools/list", bin)
	return nil, nil, 0
}

func stopServer(b *testing.B, cmd *exec.Cmd, stdin io.WriteCloser) {
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkColdStart spawns the server, sends initialize, initialized and
// tools/list at once, and stops the clock at the tools/list answer.
func BenchmarkColdStart(b *testing.B) {
	env := benchHome(b)
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, stdin, d := startServer(b, binPath, env)
		times = append(times, d)
		b.StopTimer()
		stopServer(b, cmd, stdin)
		b.StartTimer()
	}
	b.ReportMetric(p50(times), "p50-ms")
}

// BenchmarkIdleRSS reports the resident memory (Linux) of a server left
// idle for two seconds after answering tools/list, beside the yardstick of
// testdata/rssfloor built in steps: a one-tool mcp-go server alone, then
// also opening the store with modernc.org/sqlite, then also initialising
// go-git, viper and cobra. The last step is the floor of the design card's
// packages before any of this server's own code and features.
func BenchmarkIdleRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	env := benchHome(b)
	home := strings.TrimPrefix(env[0], "AIFACTORY_HOME=")
	steps := []struct{ name, tags string }{
		{"step=1-mcp-go", ""},
		{"step=2-sqlite", "floor_sqlite"},
		{"step=3-go-git,viper,cobra", "floor_deps"},
		{"step=4-aifactory-mcp", "-"},
	}
	for _, st := range steps {
		bin := binPath
		if st.tags != "-" {
			bin = filepath.Join(b.TempDir(), "rssfloor")
			build := exec.Command("go", "build", "-tags", st.tags, "-o", bin, "./testdata/rssfloor")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				b.Fatalf("build rssfloor: %v %s", err, out)
			}
		}
		b.Run(st.name, func(b *testing.B) {
			rss := make([]float64, 0, b.N)
			for i := 0; i < b.N; i++ {
				cmd, stdin, _ := startServer(b, bin, append(env, "AIFACTORY_DB="+filepath.Join(home, "aifactory.db")))
				time.Sleep(2 * time.Second) // idle is what is measured
				rss = append(rss, rssMiB(cmd.Process.Pid))
				stopServer(b, cmd, stdin)
			}
			slices.Sort(rss)
			b.ReportMetric(rss[len(rss)/2], "idle-RSS-MiB")
		})
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
