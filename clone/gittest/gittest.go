// Package gittest serves real Git repositories for tests: bare repositories
// behind `git http-backend` (through net/http/cgi) over TLS on 127.0.0.1,
// with basic auth, private repositories that answer 404 without it, holds
// that stop a repository's responses until released, and redirects.
package gittest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a Git smart-HTTP server on 127.0.0.1.
type Server struct {
	URL      string // https://127.0.0.1:PORT (http:// from NewPlainServer)
	Host     string // 127.0.0.1:PORT
	User     string
	Password string
	CertPool *x509.CertPool
	CAFile   string // PEM of the server's certificate, for AIFACTORY_CA_FILE

	root        string
	ts          *httptest.Server
	backend     *cgi.Handler
	mu          sync.Mutex
	repos       map[string]*repoState
	authHeaders atomic.Int64
	requests    atomic.Int64
}

type repoState struct {
	fetches  atomic.Int64 // upload-pack ref advertisements answered
	private  bool
	hold     *Hold
	redirect string
}

// NewServer starts a TLS server; it stops when the test ends.
func NewServer(t testing.TB) *Server { return newServer(t, true) }

// NewPlainServer starts a server on plain http:// (for the
// AIFACTORY_ALLOW_HTTP paths); it stops when the test ends.
func NewPlainServer(t testing.TB) *Server { return newServer(t, false) }

func newServer(t testing.TB, useTLS bool) *Server {
	t.Helper()
	RequireGit(t)
	dir := t.TempDir()
	s := &Server{root: filepath.Join(dir, "repos"), repos: map[string]*repoState{}, User: "gituser", Password: "pw-" + randHex(8)}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	s.backend = &cgi.Handler{
		Path: filepath.Join(gitExecPath(t), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir},
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if !useTLS {
		s.ts.Start()
		t.Cleanup(s.Close)
		s.URL = s.ts.URL
		s.Host = strings.TrimPrefix(s.ts.URL, "http://")
		return s
	}
	s.ts.StartTLS()
	t.Cleanup(s.Close)
	s.URL = s.ts.URL
	s.Host = strings.TrimPrefix(s.ts.URL, "https://")
	s.CertPool = x509.NewCertPool()
	s.CertPool.AddCert(s.ts.Certificate())
	s.CAFile = filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// Close stops the server, releasing any holds first.
func (s *Server) Close() {
	s.mu.Lock()
	for _, r := range s.repos {
		if r.hold != nil {
			r.hold.Release()
		}
	}
	s.mu.Unlock()
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Certificate is the server's TLS certificate.
func (s *Server) Certificate() *x509.Certificate { return s.ts.Certificate() }

// AuthHeaders counts requests that carried an Authorization header.
func (s *Server) AuthHeaders() int64 { return s.authHeaders.Load() }

// Requests counts every request served.
func (s *Server) Requests() int64 { return s.requests.Load() }

// repoOf maps a request path to the repository name ("org/app.git").
func repoOf(path string) string {
	i := strings.Index(path, ".git/")
	if i < 0 {
		return strings.Trim(path, "/")
	}
	return strings.Trim(path[:i+4], "/")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Header.Get("Authorization") != "" {
		s.authHeaders.Add(1)
	}
	name := repoOf(r.URL.Path)
	s.mu.Lock()
	st := s.repos[name]
	s.mu.Unlock()
	if st == nil {
		http.NotFound(w, r)
		return
	}
	if st.redirect != "" {
		http.Redirect(w, r, st.redirect+strings.TrimPrefix(r.URL.Path, "/"+name)+"?"+r.URL.RawQuery, http.StatusFound)
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	if hasAuth && (user != s.User || pass != s.Password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	if st.private && !hasAuth {
		http.NotFound(w, r) // as GitHub does for private repositories
		return
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") && r.URL.Query().Get("service") == "git-upload-pack" {
		st.fetches.Add(1)
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") && st.hold != nil {
		w = &heldWriter{ResponseWriter: w, hold: st.hold, done: r.Context().Done()}
	}
	s.backend.ServeHTTP(w, r)
}

// RepoOptions configure a new repository.
type RepoOptions struct {
	Private bool
	Empty   bool // no commit at all: what a host serves for a new repository
}

// Repo is a bare repository on the server with a working clone that the
// test commits in and pushes from.
type Repo struct {
	Name string // "org/app.git"
	URL  string // https URL
	Bare string
	Work string
	s    *Server
}

// NewRepo creates a repository with one commit on main (none if Empty).
func (s *Server) NewRepo(t testing.TB, name string, opts RepoOptions) *Repo {
	t.Helper()
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	r := &Repo{Name: name, URL: s.URL + "/" + name, Bare: filepath.Join(s.root, name), Work: filepath.Join(t.TempDir(), "work"), s: s}
	Git(t, "", "init", "--bare", "-q", "-b", "main", r.Bare)
	Git(t, r.Bare, "config", "http.receivepack", "false")
	Git(t, "", "init", "-q", "-b", "main", r.Work)
	Git(t, r.Work, "remote", "add", "origin", r.Bare)
	s.mu.Lock()
	s.repos[name] = &repoState{private: opts.Private}
	s.mu.Unlock()
	if !opts.Empty {
		r.Commit(t, map[string]string{"README.md": "# " + name + "\n"}, "initial commit")
	}
	return r
}

// Commit writes files (a nil content deletes), commits and pushes the
// current branch. It returns the new commit id.
func (r *Repo) Commit(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	WriteFiles(t, r.Work, files)
	Git(t, r.Work, "add", "-A")
	Git(t, r.Work, "commit", "-q", "--allow-empty", "-m", msg)
	branch := strings.TrimSpace(Git(t, r.Work, "rev-parse", "--abbrev-ref", "HEAD"))
	Git(t, r.Work, "push", "-q", "origin", branch)
	return strings.TrimSpace(Git(t, r.Work, "rev-parse", "HEAD"))
}

// Branch creates and checks out a branch and pushes it.
func (r *Repo) Branch(t testing.TB, name string) {
	t.Helper()
	Git(t, r.Work, "checkout", "-q", "-b", name)
	Git(t, r.Work, "push", "-q", "origin", name)
}

// Checkout switches the working clone to an existing branch.
func (r *Repo) Checkout(t testing.TB, name string) { Git(t, r.Work, "checkout", "-q", name) }

// Rewrite replaces the last commit with another and force-pushes, so that
// clones of the old history have diverged.
func (r *Repo) Rewrite(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	Git(t, r.Work, "reset", "-q", "--hard", "HEAD~1")
	WriteFiles(t, r.Work, files)
	Git(t, r.Work, "add", "-A")
	Git(t, r.Work, "commit", "-q", "--allow-empty", "-m", msg)
	branch := strings.TrimSpace(Git(t, r.Work, "rev-parse", "--abbrev-ref", "HEAD"))
	Git(t, r.Work, "push", "-q", "--force", "origin", branch)
	return strings.TrimSpace(Git(t, r.Work, "rev-parse", "HEAD"))
}

// Head returns the commit id of a branch in the bare repository.
func (r *Repo) Head(t testing.TB, branch string) string {
	t.Helper()
	return strings.TrimSpace(Git(t, r.Bare, "rev-parse", "refs/heads/"+branch))
}

// Fetches counts the clones and fetches of the repository: each starts
// with one upload-pack ref advertisement (GET info/refs), whatever the
// protocol version.
func (s *Server) Fetches(name string) int64 {
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.repos[name]; st != nil {
		return st.fetches.Load()
	}
	return 0
}

// Hold makes the repository's fetch responses stop after their first bytes
// until the hold is released, so a test can keep a clone running for as
// long as it needs. Reached is closed when a response is held.
func (s *Server) Hold(name string) *Hold {
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	h := &Hold{release: make(chan struct{}), reached: make(chan struct{})}
	s.mu.Lock()
	s.repos[name].hold = h
	s.mu.Unlock()
	return h
}

// Redirect makes every request for the repository answer 302 to the same
// path under target (another server's repository URL).
func (s *Server) Redirect(name, target string) {
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	s.mu.Lock()
	if s.repos[name] == nil {
		s.repos[name] = &repoState{}
	}
	s.repos[name].redirect = target
	s.mu.Unlock()
}

// Hold is a gate on a repository's responses.
type Hold struct {
	release     chan struct{}
	reached     chan struct{}
	releaseOnce sync.Once
	reachOnce   sync.Once
}

// Reached is closed once a response is being held.
func (h *Hold) Reached() <-chan struct{} { return h.reached }

// Release lets held responses go on.
func (h *Hold) Release() { h.releaseOnce.Do(func() { close(h.release) }) }

type heldWriter struct {
	http.ResponseWriter
	hold    *Hold
	done    <-chan struct{}
	written int
}

// heldAfter bytes pass before the hold: enough for the pack's first
// progress messages to reach the client.
const heldAfter = 512

func (w *heldWriter) Write(b []byte) (int, error) {
	total := 0
	if w.written < heldAfter { // let the first bytes through, however large the write
		n := min(len(b), heldAfter-w.written)
		m, err := w.write(b[:n])
		total += m
		if err != nil || m == len(b) {
			return total, err
		}
		b = b[n:]
	}
	w.hold.reachOnce.Do(func() { close(w.hold.reached) })
	select {
	case <-w.hold.release:
	case <-w.done:
		return total, fmt.Errorf("client went away")
	}
	m, err := w.write(b)
	return total + m, err
}

func (w *heldWriter) write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.written += n
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}

// WriteFiles writes files under dir; a "" key is ignored.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Git runs the git CLI in dir with an isolated configuration.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
}

// RequireGit fails the test when git is missing: these tests never pass
// without a real Git server.
func RequireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed; .ci/run installs it")
	}
}

func gitExecPath(t testing.TB) string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
