package gittest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GenOptions shapes a generated repository.
type GenOptions struct {
	Private bool
	Files   int // files in the first commit
	// FileBytes is the mean file size; contents are random base64 lines, so
	// they compress about as badly as real source's binary assets and well
	// enough to delta.
	FileBytes int
	Commits   int // further commits, each changing ChangedFiles files
	Changed   int
	Seed      uint64
}

// Generate builds a bare repository from a fast-import stream: Files files
// spread over nested directories, then Commits commits of churn that change
// a few lines of Changed files each (real history with deltas), repacked
// the way a hosting service keeps it. The content is a function of Seed.
func (s *Server) Generate(t testing.TB, name string, o GenOptions) *Repo {
	t.Helper()
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	r := &Repo{Name: name, URL: s.URL + "/" + name, Bare: filepath.Join(s.root, name), s: s}
	Git(t, "", "init", "--bare", "-q", "-b", "main", r.Bare)
	Git(t, r.Bare, "config", "http.receivepack", "false")

	cmd := exec.Command("git", "fast-import", "--quiet", "--depth=50")
	cmd.Dir = r.Bare
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	werr := writeHistory(in, o)
	in.Close()
	if err := cmd.Wait(); err != nil || werr != nil {
		t.Fatalf("git fast-import: %v %v\n%s", err, werr, stderr.String())
	}
	Git(t, r.Bare, "repack", "-a", "-d", "-q", "--window=10", "--depth=50")
	Git(t, r.Bare, "prune-packed")
	s.mu.Lock()
	s.repos[name] = &repoState{private: o.Private}
	s.mu.Unlock()
	return r
}

func writeHistory(w io.Writer, o GenOptions) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	paths := make([]string, o.Files)
	contents := make([][]string, o.Files)
	raw := make([]byte, 57) // 76 base64 characters a line
	line := func() string {
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		return base64.StdEncoding.EncodeToString(raw) + "\n"
	}
	for i := range paths {
		paths[i] = fmt.Sprintf("pkg%02d/mod%03d/file%05d.txt", i%37, i%211, i)
		n := 1 + rng.IntN(2*o.FileBytes/77+1)
		lines := make([]string, n)
		for j := range lines {
			lines[j] = line()
		}
		contents[i] = lines
	}
	when := int64(1_700_000_000)
	commit := func(n int, msg string, files []int) {
		fmt.Fprintf(bw, "commit refs/heads/main\nmark :%d\ncommitter Gen <gen@example.com> %d +0000\ndata %d\n%s\n", n, when+int64(n)*3600, len(msg), msg)
		if n > 1 {
			fmt.Fprintf(bw, "from :%d\n", n-1)
		}
		for _, i := range files {
			body := strings.Join(contents[i], "")
			fmt.Fprintf(bw, "M 100644 inline %s\ndata %d\n%s\n", paths[i], len(body), body)
		}
	}
	all := make([]int, o.Files)
	for i := range all {
		all[i] = i
	}
	commit(1, "initial import", all)
	for c := 0; c < o.Commits; c++ {
		changed := make([]int, o.Changed)
		for k := range changed {
			i := rng.IntN(o.Files)
			changed[k] = i
			lines := contents[i]
			lines[rng.IntN(len(lines))] = line()
			contents[i] = append(lines, line())
		}
		commit(c+2, fmt.Sprintf("change %d", c+1), changed)
	}
	return bw.Flush()
}
