//go:build unix

package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aifactory/aifactory-mcp/clone/gittest"
)

// benchFiles is the generated repository's size: 16,000 files make a
// 61 MiB pack with 200 commits of churn. AIFACTORY_BENCH_FILES shrinks it
// for a smoke run.
func benchFiles() int {
	if n, err := strconv.Atoi(os.Getenv("AIFACTORY_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return 16000
}

// benchDir is where clones land: AIFACTORY_BENCH_DIR (tmpfs, say) or the
// temp dir.
func benchDir(b *testing.B) string {
	base := os.Getenv("AIFACTORY_BENCH_DIR")
	dir, err := os.MkdirTemp(base, "aifactory-bench")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

var (
	launcherOnce sync.Once
	launcher     string
)

// measured is a command run under testdata/maxrss, which reports the
// command's peak resident memory (see there why not ru_maxrss directly).
type measured struct {
	*exec.Cmd
	stderr strings.Builder
}

func measure(b *testing.B, env []string, name string, args ...string) *measured {
	launcherOnce.Do(func() {
		launcher = filepath.Join(filepath.Dir(binPath), "maxrss")
		if out, err := exec.Command("go", "build", "-o", launcher, "./testdata/maxrss").CombinedOutput(); err != nil {
			b.Fatalf("build maxrss: %v %s", err, out)
		}
	})
	m := &measured{Cmd: exec.Command(launcher, append([]string{name}, args...)...)}
	m.Env = env
	m.Stderr = &m.stderr
	return m
}

// peakMiB is the command's peak resident set: ru_maxrss of it and of the
// descendants it waited for.
func (m *measured) peakMiB(b *testing.B) float64 {
	_, tail, ok := strings.Cut(m.stderr.String(), "maxrss_kib=")
	kib, err := strconv.ParseFloat(strings.TrimSpace(tail), 64)
	if !ok || err != nil {
		b.Fatalf("no maxrss in %q", m.stderr.String())
	}
	return kib / 1024
}

// BenchmarkClone clones the same generated private repository over TLS and
// basic auth from the test's git http-backend, with `aifactory-mcp project
// add` (a fresh home each time, the credential stored beforehand) and with
// the git CLI, each as its own process. It reports time per clone and the
// peak resident memory of the process tree. Compare the two with
//
//	go test ./cmd/aifactory-mcp -run '^$' -bench Clone -benchtime 1x -count 5 | benchstat -col /tool -
func BenchmarkClone(b *testing.B) {
	srv := gittest.NewServer(b)
	repo := srv.Generate(b, "bench/big", gittest.GenOptions{Private: true, Files: benchFiles(), FileBytes: 3200, Commits: 199, Changed: 40, Seed: 1})
	// Start every tool from the same state: the generator's garbage
	// collected, the server's pack in the page cache.
	debug.FreeOSMemory()
	gitEnv := gitCLIEnv(srv)
	warm := benchDir(b)
	cmd := exec.Command("git", "clone", "-q", repo.URL, filepath.Join(warm, "warm"))
	cmd.Env = gitEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("warm-up clone: %v %s", err, out)
	}
	os.RemoveAll(warm)
	for _, depth := range []string{"full", "1"} {
		for _, engine := range []string{"git", "go-git"} {
			b.Run("depth="+depth+"/tool=aifactory-"+engine, func(b *testing.B) {
				benchProjectAdd(b, srv, repo.URL, depth, engine)
			})
		}
		b.Run("depth="+depth+"/tool=git", func(b *testing.B) {
			var peak float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := benchDir(b)
				args := []string{"clone", "-q", "--single-branch"}
				if depth != "full" {
					args = append(args, "--depth", depth)
				}
				cmd := measure(b, gitEnv, "git", append(args, repo.URL, filepath.Join(dir, "big"))...)
				b.StartTimer()
				err := cmd.Run()
				b.StopTimer()
				if err != nil {
					b.Fatalf("git clone: %v %s", err, cmd.stderr.String())
				}
				peak = max(peak, cmd.peakMiB(b))
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(peak, "peak-MiB")
		})
	}
}

// gitCLIEnv is the environment of the reference `git clone`: the test
// server's CA, its basic auth as an extra header, no user configuration.
func gitCLIEnv(srv *gittest.Server) []string {
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(srv.User+":"+srv.Password))
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_SSL_CAINFO="+srv.CAFile, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0="+auth)
}

// benchProjectAdd times `aifactory-mcp project add` with one clone engine,
// a fresh home each time and the credential stored beforehand.
func benchProjectAdd(b *testing.B, srv *gittest.Server, url, depth, engine string) {
	var peak float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home := benchDir(b)
		env := []string{"AIFACTORY_HOME=" + home, "AIFACTORY_CA_FILE=" + srv.CAFile, "HOME=" + home, "PATH=" + os.Getenv("PATH"),
			"AIFACTORY_CLONE_ENGINE=" + engine}
		credID := runBench(b, env, srv.Password, "credential", "add", "--name", "bench", "--host", srv.Host, "--username", srv.User, "--token-stdin")
		args := []string{"project", "add", url, "--credential", strings.TrimSpace(string(credID))}
		if depth != "full" {
			args = append(args, "--depth", depth)
		}
		cmd := measure(b, env, binPath, args...)
		b.StartTimer()
		out, err := cmd.Output()
		b.StopTimer()
		if err != nil {
			b.Fatalf("project add: %v %s", err, cmd.stderr.String())
		}
		var res struct{ Project struct{ Path, Status string } }
		if json.Unmarshal(out, &res) != nil || res.Project.Status != "ready" {
			b.Fatalf("project add: %s", out)
		}
		peak = max(peak, cmd.peakMiB(b))
		os.RemoveAll(home)
		b.StartTimer()
	}
	b.ReportMetric(peak, "peak-MiB")
}

func runBench(b *testing.B, env []string, stdin string, args ...string) []byte {
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v %s", args, err, errText(err))
	}
	return out
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
