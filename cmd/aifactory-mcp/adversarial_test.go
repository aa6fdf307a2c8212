package main

// The adversarial suite: the real binary, driven over stdio and from the
// command line against the gittest servers, attacked for leaks, with
// hostile input, across hosts, by kill -9 and by racing processes.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/clone/gittest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	_ "modernc.org/sqlite"
)

// proc is a running server with its process and captured stderr.
type proc struct {
	c      *client.Client
	cmd    *exec.Cmd
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve starts the binary as an MCP server and keeps hold of its process.
func (e *e2e) serve(extraEnv ...string) *proc {
	e.t.Helper()
	p := &proc{stderr: &syncBuffer{}}
	c, err := client.NewStdioMCPClientWithOptions(binPath, append(append([]string{}, e.env...), extraEnv...), nil,
		transport.WithCommandStderrWriter(p.stderr),
		transport.WithCommandFunc(func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			p.cmd = exec.CommandContext(ctx, command, args...)
			p.cmd.Env = env
			return p.cmd, nil
		}))
	if err != nil {
		e.t.Fatal(err)
	}
	p.c = c
	e.t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "adversary", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		e.t.Fatalf("%v\n%s", err, p.stderr.String())
	}
	return p
}

// procMemory is what another process can read about a running process and
// its children: command lines and environments.
func procMemory(t *testing.T, pid int) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	var out strings.Builder
	pids := []int{pid}
	for len(pids) > 0 {
		p := pids[0]
		pids = pids[1:]
		for _, f := range []string{"cmdline", "environ"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", p, f))
			out.Write(b)
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, task.Name()))
			for _, c := range strings.Fields(string(b)) {
				var child int
				fmt.Sscan(c, &child)
				pids = append(pids, child)
			}
		}
	}
	return out.String()
}

func TestAdversarial_LeakSweep(t *testing.T) {
	logFile := "log/server.log"
	e := newE2E(t, "AIFACTORY_LOG_LEVEL=debug")
	e.env = append(e.env, "AIFACTORY_LOG_FILE="+filepath.Join(e.home, logFile))
	other := gittest.NewServer(t)
	e.env = append(e.env, "AIFACTORY_CA_FILE="+caBundle(t, e.srv, other))

	wrong := "SENTINEL-wrong-" + e.srv.Password
	sentinels := []string{
		e.srv.Password, wrong,
		base64.StdEncoding.EncodeToString([]byte(e.srv.User + ":" + e.srv.Password)),
		base64.StdEncoding.EncodeToString([]byte(e.srv.User + ":" + wrong)),
	}
	var seen strings.Builder // everything a user or another process could read
	leaks := func(where, text string) {
		t.Helper()
		for _, s := range sentinels {
			if strings.Contains(text, s) {
				t.Errorf("a token leaked into %s", where)
			}
		}
	}

	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{Private: true})
	repo.Commit(t, map[string]string{"a.txt": "a\n"}, "second") // so that it can be rewritten
	slow := bulkRepo(t, e.srv, "org/slow")
	e.srv.Generate(t, "org/slow2", gittest.GenOptions{Private: true, Files: 200, FileBytes: 2000, Commits: 2, Changed: 3, Seed: 2})
	foreign := other.NewRepo(t, "org/app", gittest.RepoOptions{})
	good := e.admin(e.srv.Password, "credential", "add", "--name", "good", "--host", e.srv.Host, "--username", e.srv.User, "--token-stdin")
	bad := e.admin(wrong+"\n", "credential", "add", "--name", "bad", "--host", e.srv.Host, "--username", e.srv.User, "--token-stdin")

	p := e.serve()
	log := watchProgress(p.c)
	results := func(tool string, args map[string]any) (map[string]any, bool) {
		t.Helper()
		out, text, isErr := call(t, p.c, tool, args)
		seen.WriteString(text)
		return out, isErr
	}
	out, isErr := results("project_create", map[string]any{"gitUrl": repo.URL, "gitCredentialId": good})
	if isErr {
		t.Fatalf("create with the good credential: %v", out)
	}
	id := out["project"].(map[string]any)["id"].(string)
	for name, args := range map[string]map[string]any{
		"wrong token":   {"gitUrl": e.srv.URL + "/org/app2.git", "gitCredentialId": bad},
		"404":           {"gitUrl": e.srv.URL + "/org/missing.git", "gitCredentialId": good},
		"host mismatch": {"gitUrl": foreign.URL, "gitCredentialId": good},
		"userinfo":      {"gitUrl": strings.Replace(repo.URL, "https://", "https://"+e.srv.User+":"+e.srv.Password+"@", 1)},
	} {
		if _, isErr := results("project_create", args); !isErr {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, isErr := results("handover", map[string]any{"cwd": t.TempDir(), "gitUrl": e.srv.URL + "/org/app.git", "gitCredentialId": bad}); isErr {
		t.Error("handover of a registered URL failed") // it matches the URL, whatever the credential
	}

	// Mid-clone, with the credential in use: the command lines and
	// environments of the server and anything it started.
	hold := e.srv.Hold("org/slow2")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := createRequest(e.srv.URL+"/org/slow2.git", "leak")
		req.Params.Arguments.(map[string]any)["gitCredentialId"] = good
		p.c.CallTool(ctx, req)
	}()
	<-hold.Reached()
	mem := procMemory(t, p.cmd.Process.Pid)
	if runtime.GOOS == "linux" && !strings.Contains(mem, "AIFACTORY_HOME=") {
		t.Fatal("could not read the server's environment")
	}
	leaks("the server's argv or environment", mem)
	cancel() // cancellation, with the token in use
	<-done
	hold.Release()

	// Timeout: a second server with a one-second clone timeout.
	slowHold := e.srv.Hold("org/slow")
	timed := e.serve("AIFACTORY_CLONE_TIMEOUT=1s")
	_, text, isErr := call(t, timed.c, "project_create", map[string]any{"gitUrl": slow.URL, "gitCredentialId": good})
	seen.WriteString(text)
	if !isErr || !strings.Contains(text, "time") {
		t.Errorf("timeout: %v %s", isErr, text)
	}
	slowHold.Release()

	// Diverged sync with the credential.
	repo.Rewrite(t, map[string]string{"README.md": "rewritten\n"}, "rewrite")
	if _, isErr := results("project_sync", map[string]any{"projectId": id}); !isErr {
		t.Error("diverged sync reported no error")
	}
	for _, tool := range []string{"project_list", "credential_list", "whoami"} {
		results(tool, nil)
	}
	results("project_get", map[string]any{"projectId": id})
	for _, args := range [][]string{{"credential", "list", "--json"}, {"project", "list", "--json"}, {"audit", "list", "--json"}, {"key", "list", "--json"}} {
		seen.WriteString(e.admin("", args...))
	}
	cmd := exec.Command(binPath, "project", "sync", "--all")
	cmd.Env = e.env
	cliOut, _ := cmd.CombinedOutput() // the diverged project makes it fail
	seen.Write(cliOut)

	log.mu.Lock()
	for _, n := range log.items {
		seen.WriteString(fmt.Sprint(n))
	}
	log.mu.Unlock()
	p.c.Close()
	timed.c.Close()
	leaks("tool results, command output or progress", seen.String())
	leaks("the server's stderr", p.stderr.String()+timed.stderr.String())
	if st, err := os.Stat(filepath.Join(e.home, logFile)); err != nil || st.Size() == 0 {
		t.Errorf("no log file written: %v", err)
	}
	for _, s := range sentinels {
		if hits := grepTree(t, e.home, s); len(hits) != 0 {
			t.Errorf("a token is in %v", hits)
		}
	}
	if other.AuthHeaders() != 0 {
		t.Errorf("the other host received %d Authorization headers", other.AuthHeaders())
	}
}

// caBundle writes the certificates of several test servers into one file.
func caBundle(t *testing.T, servers ...*gittest.Server) string {
	var pem []byte
	for _, s := range servers {
		b, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pem = append(pem, b...)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostileCreates are project_create arguments that must be refused before
// anything is written or any request is sent. host is a live test server,
// so a hostile input that got through would show as a request.
func hostileCreates(host string) map[string]map[string]any {
	u := "https://" + host
	return map[string]map[string]any{
		"file URL":              {"gitUrl": "file:///etc/passwd"},
		"file URL localhost":    {"gitUrl": "file://localhost/srv/repo.git"},
		"ext transport":         {"gitUrl": "ext::sh -c touch% /tmp/pwned"},
		"ssh URL":               {"gitUrl": "ssh://git@" + host + "/org/app.git"},
		"scp-like":              {"gitUrl": "git@" + strings.Split(host, ":")[0] + ":org/app.git"},
		"git protocol":          {"gitUrl": "git://" + host + "/org/app.git"},
		"plain http":            {"gitUrl": "http://" + host + "/org/app.git"},
		"userinfo":              {"gitUrl": "https://user:SENTINEL-ui@" + host + "/org/app.git"},
		"user only":             {"gitUrl": "https://SENTINEL-ui@" + host + "/org/app.git"},
		"leading dash":          {"gitUrl": "-u" + u + "/org/app.git"},
		"upload-pack option":    {"gitUrl": "--upload-pack=touch /tmp/x"},
		"dot-dot":               {"gitUrl": u + "/org/../../etc.git"},
		"encoded dot-dot":       {"gitUrl": u + "/org/%2e%2e/x.git"},
		"encoded slash":         {"gitUrl": u + "/org/..%2f..%2fetc"},
		"NUL":                   {"gitUrl": u + "/org/a\x00pp.git"},
		"encoded NUL":           {"gitUrl": u + "/org/app%00.git"},
		"newline":               {"gitUrl": u + "/org/a\npp.git"},
		"escape sequence":       {"gitUrl": u + "/org/\x1b[31mapp.git"},
		"look-alike host":       {"gitUrl": "https://gіthub.com/org/app.git"},
		"10,000 characters":     {"gitUrl": u + "/" + strings.Repeat("a", 10000)},
		"metadata address":      {"gitUrl": "https://169.254.169.254/latest/meta-data.git"},
		"IPv4-mapped metadata":  {"gitUrl": "https://[::ffff:169.254.169.254]/x.git"},
		"IPv6 link-local":       {"gitUrl": "https://[fe80::1]/org/app.git"},
		"query":                 {"gitUrl": u + "/org/app.git?upload-pack=x"},
		"at in path":            {"gitUrl": u + "/@evil.example/app.git"},
		"empty":                 {"gitUrl": ""},
		"neither":               {},
		"both":                  {"gitUrl": u + "/org/app.git", "path": "/tmp"},
		"relative path":         {"path": "../../etc"},
		"overlong name":         {"gitUrl": u + "/org/app.git", "name": strings.Repeat("n", 10000)},
		"name with control":     {"gitUrl": u + "/org/app.git", "name": "app\x1b]0;pwned\x07"},
		"option as branch":      {"gitUrl": u + "/org/app.git", "branch": "--upload-pack=touch /tmp/x"},
		"negative depth":        {"gitUrl": u + "/org/app.git", "depth": -1},
		"fractional depth":      {"gitUrl": u + "/org/app.git", "depth": 1.5},
		"unknown credential":    {"gitUrl": u + "/org/app.git", "gitCredentialId": "01a2420f-0000-7000-8000-000000000000"},
		"wrong type":            {"gitUrl": []any{"https://example.com/a.git"}},
		"workspace temp name":   {"gitUrl": u + "/org/.aifactory-tmp"},
		"dot-git only":          {"gitUrl": u + "/org/.git"},
		"path to a file":        {"path": "/etc/passwd"},
		"credential with path":  {"path": "/tmp", "gitCredentialId": "x"},
		"branch with traversal": {"gitUrl": u + "/org/app.git", "branch": "../../etc"},
	}
}

func TestAdversarial_HostileInput(t *testing.T) {
	e := newE2E(t)
	e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	before := e.srv.Requests()
	c := e.client()
	cases := hostileCreates(e.srv.Host)
	held := 0
	for name, args := range cases {
		_, text, isErr := call(t, c, "project_create", args)
		switch {
		case !isErr:
			t.Errorf("%s: accepted: %s", name, text)
		case text == "" || strings.Count(text, "\n") > 0 || len(text) > 400:
			t.Errorf("%s: not one clear sentence: %q", name, text)
		case strings.Contains(text, "SENTINEL") || strings.ContainsAny(text, "\x00\x1b"):
			t.Errorf("%s: the error echoes hostile input: %q", name, text)
		default:
			held++
		}
	}
	out, _, _ := call(t, c, "project_list", nil)
	if n := len(out["projects"].([]any)); n != 0 {
		t.Errorf("%d projects registered", n)
	}
	entries, _ := os.ReadDir(filepath.Join(e.home, "workspaces"))
	for _, en := range entries {
		if en.Name() != ".aifactory-tmp" {
			t.Errorf("workspace has %s", en.Name())
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(e.home, "workspaces", ".aifactory-tmp"))
	if len(tmp) != 0 {
		t.Errorf("temporary leftovers: %v", tmp)
	}
	if n := e.srv.Requests() - before; n != 0 {
		t.Errorf("%d requests reached the git server", n)
	}
	t.Logf("hostile inputs: %d tried, %d held", len(cases), held)
}

func TestAdversarial_HostBinding(t *testing.T) {
	e := newE2E(t)
	other := gittest.NewServer(t)
	e.env = append(e.env, "AIFACTORY_CA_FILE="+caBundle(t, e.srv, other))
	other.NewRepo(t, "org/app", gittest.RepoOptions{})
	other.NewRepo(t, "org/private", gittest.RepoOptions{Private: true})
	e.srv.Redirect("org/moved", other.URL+"/org/app.git")
	e.srv.Redirect("org/moved-private", other.URL+"/org/private.git")
	cred := e.admin(e.srv.Password, "credential", "add", "--name", "first", "--host", e.srv.Host, "--username", e.srv.User, "--token-stdin")
	c := e.client()

	_, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": other.URL + "/org/app.git", "gitCredentialId": cred})
	if !isErr || !strings.Contains(text, e.srv.Host) {
		t.Errorf("credential used on another host: %v %s", isErr, text)
	}
	if other.Requests() != 0 {
		t.Errorf("refused call still reached the other host (%d requests)", other.Requests())
	}
	for _, moved := range []string{"org/moved", "org/moved-private"} {
		call(t, c, "project_create", map[string]any{"gitUrl": e.srv.URL + "/" + moved + ".git", "gitCredentialId": cred})
	}
	if other.AuthHeaders() != 0 {
		t.Errorf("the other host received %d Authorization headers", other.AuthHeaders())
	}
}

// integrityCheck opens the database file the way another tool would.
func integrityCheck(t *testing.T, path string) string {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAdversarial_KillMidClone(t *testing.T) {
	e := newE2E(t)
	repo := bulkRepo(t, e.srv, "org/big")
	hold := e.srv.Hold("org/big")
	p := e.serve()
	log := watchProgress(p.c)
	go p.c.CallTool(context.Background(), createRequest(repo.URL, "kill"))
	<-log.first
	<-hold.Reached()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	hold.Release()

	workspace := filepath.Join(e.home, "workspaces")
	if _, err := os.Stat(filepath.Join(workspace, "big")); !os.IsNotExist(err) {
		t.Fatalf("a half clone is at the target path: %v", err)
	}
	again := e.serve()
	tmp, _ := os.ReadDir(filepath.Join(workspace, ".aifactory-tmp"))
	if len(tmp) != 0 {
		t.Errorf("temporary leftovers after restart: %v", tmp)
	}
	if res := integrityCheck(t, filepath.Join(e.home, "aifactory.db")); res != "ok" {
		t.Errorf("integrity_check: %s", res)
	}
	out, text, isErr := call(t, again.c, "project_create", map[string]any{"gitUrl": repo.URL})
	if isErr || out["project"].(map[string]any)["status"] != "ready" {
		t.Fatalf("create after the crash: %s", text)
	}
	if _, err := os.Stat(filepath.Join(workspace, "big", ".git")); err != nil {
		t.Errorf("no clone after the crash: %v", err)
	}
}

// addConcurrently runs `project add` for each URL in its own process, all
// at once, and returns each process's project id.
func addConcurrently(t *testing.T, e *e2e, urls []string) []string {
	ids := make([]string, len(urls))
	errs := make([]error, len(urls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(binPath, "project", "add", u)
			cmd.Env = e.env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			<-start
			out, err := cmd.Output()
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, stderr.String())
				return
			}
			var res struct{ Project struct{ ID, Status string } }
			if err := json.Unmarshal(out, &res); err != nil || res.Project.Status != "ready" {
				errs[i] = fmt.Errorf("%s", out)
				return
			}
			ids[i] = res.Project.ID
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	return ids
}

func TestAdversarial_ProcessRaces(t *testing.T) {
	e := newE2E(t)
	e.admin("", "init") // the processes race on the clone, not on first-run setup
	same := bulkRepo(t, e.srv, "org/same")
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = same.URL
	}
	ids := addConcurrently(t, e, urls)
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("eight processes got different ids: %v", ids)
		}
	}
	if n := e.srv.Fetches("org/same"); n != 1 {
		t.Errorf("%d clones of one URL", n)
	}
	entries, _ := os.ReadDir(filepath.Join(e.home, "workspaces"))
	var dirs []string
	for _, en := range entries {
		if en.Name() != ".aifactory-tmp" {
			dirs = append(dirs, en.Name())
		}
	}
	if len(dirs) != 1 {
		t.Errorf("directories %v, want one", dirs)
	}

	for i := range urls {
		urls[i] = e.srv.NewRepo(t, fmt.Sprintf("org/r%d", i), gittest.RepoOptions{}).URL
	}
	ids = addConcurrently(t, e, urls)
	unique := map[string]bool{}
	for _, id := range ids {
		unique[id] = true
	}
	if len(unique) != 8 {
		t.Errorf("eight URLs gave %d projects", len(unique))
	}
	for i := range urls {
		if n := e.srv.Fetches(fmt.Sprintf("org/r%d", i)); n != 1 {
			t.Errorf("org/r%d cloned %d times", i, n)
		}
	}
	if res := integrityCheck(t, filepath.Join(e.home, "aifactory.db")); res != "ok" {
		t.Errorf("integrity_check: %s", res)
	}
}

func TestAdversarial_SyncSafety(t *testing.T) {
	e := newE2E(t)
	c := e.client()
	type setup func(t *testing.T, repo *gittest.Repo, dir string) (check func() error)
	keep := func(path, content string) func() error {
		return func() error {
			b, err := os.ReadFile(path)
			if err != nil || string(b) != content {
				return fmt.Errorf("%s lost: %q %v", path, b, err)
			}
			return nil
		}
	}
	cases := map[string]setup{
		"diverged upstream": func(t *testing.T, repo *gittest.Repo, dir string) func() error {
			gittest.Git(t, dir, "commit", "-q", "--allow-empty", "-m", "local work")
			local := strings.TrimSpace(gittest.Git(t, dir, "rev-parse", "HEAD"))
			repo.Commit(t, map[string]string{"up.txt": "upstream\n"}, "upstream")
			return func() error {
				if head := strings.TrimSpace(gittest.Git(t, dir, "rev-parse", "HEAD")); head != local {
					return fmt.Errorf("local commit lost: HEAD is %s", head)
				}
				return nil
			}
		},
		"dirty worktree": func(t *testing.T, repo *gittest.Repo, dir string) func() error {
			path := filepath.Join(dir, "README.md")
			os.WriteFile(path, []byte("my edit\n"), 0o644)
			repo.Commit(t, map[string]string{"README.md": "upstream edit\n"}, "upstream")
			return keep(path, "my edit\n")
		},
		"untracked file in the way": func(t *testing.T, repo *gittest.Repo, dir string) func() error {
			path := filepath.Join(dir, "new.txt")
			os.WriteFile(path, []byte("mine\n"), 0o644)
			repo.Commit(t, map[string]string{"new.txt": "theirs\n"}, "upstream adds new.txt")
			return keep(path, "mine\n")
		},
	}
	i := 0
	for name, prepare := range cases {
		i++
		repo := e.srv.NewRepo(t, fmt.Sprintf("org/sync%d", i), gittest.RepoOptions{})
		out, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": repo.URL})
		if isErr {
			t.Fatal(text)
		}
		p := out["project"].(map[string]any)
		check := prepare(t, repo, p["path"].(string))
		_, text, isErr = call(t, c, "project_sync", map[string]any{"projectId": p["id"]})
		if !isErr {
			t.Errorf("%s: sync reported success: %s", name, text)
		}
		if err := check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		out, _, _ = call(t, c, "project_get", map[string]any{"projectId": p["id"]})
		if out["project"].(map[string]any)["lastSyncError"] == nil {
			t.Errorf("%s: lastSyncError not recorded", name)
		}
	}
}
