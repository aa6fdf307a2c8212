package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/clone/gittest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aifactory-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "aifactory-mcp")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type e2e struct {
	t    *testing.T
	home string
	env  []string
	srv  *gittest.Server
}

func newE2E(t *testing.T, extraEnv ...string) *e2e {
	home := t.TempDir()
	srv := gittest.NewServer(t)
	env := []string{"AIFACTORY_HOME=" + home, "AIFACTORY_CA_FILE=" + srv.CAFile, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
	return &e2e{t: t, home: home, env: append(env, extraEnv...), srv: srv}
}

// admin runs a command of the real binary.
func (e *e2e) admin(stdin string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// client starts the binary as an MCP server and initializes a session.
func (e *e2e) client(extraEnv ...string) *client.Client {
	e.t.Helper()
	return e.serve(extraEnv...).c
}

func call(t *testing.T, c *client.Client, tool string, args map[string]any) (map[string]any, string, bool) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	return callReq(t, c, req)
}

// callReq calls a tool and returns its structured result, its text, and
// whether it is an error result.
func callReq(t *testing.T, c *client.Client, req mcp.CallToolRequest) (map[string]any, string, bool) {
	t.Helper()
	tool := req.Params.Name
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: protocol error %v", tool, err)
	}
	text := ""
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			text += tc.Text
		}
	}
	var structured map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &structured)
		var fromText map[string]any
		if json.Unmarshal([]byte(text), &fromText) != nil || !jsonEqual(fromText, structured) {
			t.Fatalf("%s: text block is not the structured content:\n%s", tool, text)
		}
	}
	return structured, text, res.IsError
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestE2E_AgentFlow(t *testing.T) {
	e := newE2E(t)
	const token = "SENTINEL-token-e2e"
	private := e.srv.NewRepo(t, "org/private", gittest.RepoOptions{Private: true})
	public := e.srv.NewRepo(t, "org/public", gittest.RepoOptions{})
	_ = token
	credID := e.admin(e.srv.Password, "credential", "add", "--name", "bot", "--host", e.srv.Host, "--username", e.srv.User, "--token-stdin")
	c := e.client()

	tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil || len(tools.Tools) != 8 {
		t.Fatalf("tools/list: %d tools, %v", len(tools.Tools), err)
	}

	out, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": private.URL, "gitCredentialId": credID})
	if isErr {
		t.Fatalf("create private: %s", text)
	}
	p := out["project"].(map[string]any)
	if p["status"] != "ready" || out["created"] != true || p["gitUrl"] != private.URL {
		t.Fatalf("create private: %s", text)
	}
	if strings.Contains(text, e.srv.Password) {
		t.Fatal("token in a tool result")
	}
	id := p["id"].(string)
	if _, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": public.URL}); isErr {
		t.Fatalf("create public: %s", text)
	}
	out, _, _ = call(t, c, "project_create", map[string]any{"gitUrl": strings.TrimSuffix(private.URL, ".git"), "gitCredentialId": credID})
	if out["created"] != false || out["project"].(map[string]any)["id"] != id {
		t.Fatalf("second create not idempotent: %v", out)
	}
	out, _, _ = call(t, c, "project_list", nil)
	if len(out["projects"].([]any)) != 2 {
		t.Fatalf("project_list: %v", out)
	}
	out, _, _ = call(t, c, "project_get", map[string]any{"projectId": id})
	if out["project"].(map[string]any)["id"] != id {
		t.Fatalf("project_get: %v", out)
	}
	// By path: a directory inside the clone, and the clone through a
	// symlink, find it as handover does; a path in no project does not.
	clonePath := p["path"].(string)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(clonePath, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(clonePath, "sub", "dir"), link} {
		out, text, isErr = call(t, c, "project_get", map[string]any{"path": path})
		if isErr || out["project"].(map[string]any)["id"] != id {
			t.Fatalf("project_get path %s: %s", path, text)
		}
	}
	if _, text, isErr = call(t, c, "project_get", map[string]any{"path": t.TempDir()}); !isErr || !strings.Contains(text, "no project of this org contains") {
		t.Fatalf("project_get of a path in no project: %s", text)
	}
	head := private.Commit(t, map[string]string{"x.txt": "x"}, "more")
	out, text, isErr = call(t, c, "project_sync", map[string]any{"projectId": id})
	if isErr || out["updated"] != true || out["head"] != head {
		t.Fatalf("project_sync: %s", text)
	}
	_, text, _ = call(t, c, "credential_list", nil)
	if !strings.Contains(text, credID) || strings.Contains(text, e.srv.Password) {
		t.Fatalf("credential_list: %s", text)
	}
	out, _, _ = call(t, c, "whoami", nil)
	if out["org"].(map[string]any)["slug"] != "default" {
		t.Fatalf("whoami: %v", out)
	}
	out, text, isErr = call(t, c, "project_delete", map[string]any{"projectId": id, "deleteFiles": true})
	if isErr || out["filesDeleted"] != true {
		t.Fatalf("project_delete: %s", text)
	}
	if _, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": "git@github.com:org/app.git"}); !isErr || !strings.Contains(text, "https://") {
		t.Fatalf("ssh URL: %v %s", isErr, text)
	}
	if _, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": 42}); !isErr || !strings.Contains(text, "gitUrl must be a string") {
		t.Fatalf("bad argument type: %v %s", isErr, text)
	}
	if hits := grepTree(t, e.home, e.srv.Password); len(hits) != 0 {
		t.Fatalf("plaintext token found in %v", hits)
	}
	var audit []map[string]any
	if err := json.Unmarshal([]byte(e.admin("", "audit", "list", "--json", "--limit", "100")), &audit); err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range audit {
		actions[a["action"].(string)+" "+a["outcome"].(string)]++
		if a["keyId"] == "" || a["keyId"] == "cli" && strings.HasPrefix(a["action"].(string), "mcp.") {
			t.Errorf("audit row without the key: %v", a)
		}
		if a["action"] == "mcp.project.create" && a["resourceId"] == id && (a["credentialId"] != credID || !strings.HasPrefix(a["gitUrl"].(string), strings.TrimSuffix(private.URL, ".git"))) {
			t.Errorf("create audit row lacks the credential or URL: %v", a)
		}
	}
	if actions["mcp.project.create ok"] != 3 || actions["mcp.project.sync ok"] != 1 || actions["mcp.project.delete ok"] != 1 {
		t.Errorf("audit rows %v; want one per state-changing call", actions)
	}
}

func TestE2E_KeysAndOrgs(t *testing.T) {
	e := newE2E(t)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	admin := e.client()
	out, _, _ := call(t, admin, "project_create", map[string]any{"gitUrl": repo.URL})
	id := out["project"].(map[string]any)["id"].(string)

	readKey := e.admin("", "key", "create", "--name", "ro", "--scope", "mcp:read")
	ro := e.client("AIFACTORY_MCP_KEY=" + readKey)
	if _, text, isErr := call(t, ro, "project_create", map[string]any{"gitUrl": repo.URL}); !isErr || !strings.Contains(text, "project:write") {
		t.Fatalf("read-only create: %v %s", isErr, text)
	}
	if _, text, isErr := call(t, ro, "project_list", nil); isErr {
		t.Fatalf("read-only list: %s", text)
	}

	e.admin("", "org", "create", "other")
	otherKey := e.admin("", "--org", "other", "key", "create", "--name", "o", "--scope", "*")
	other := e.client("AIFACTORY_MCP_KEY=" + otherKey)
	_, crossText, isErr := call(t, other, "project_get", map[string]any{"projectId": id})
	_, missingText, _ := call(t, other, "project_get", map[string]any{"projectId": "missing-id"})
	if !isErr || strings.ReplaceAll(crossText, id, "X") != strings.ReplaceAll(missingText, "missing-id", "X") {
		t.Fatalf("another org's id differs from a missing one: %q vs %q", crossText, missingText)
	}
	out, _, _ = call(t, other, "project_list", nil)
	if len(out["projects"].([]any)) != 0 {
		t.Fatal("another org sees projects")
	}

	none := e.client("AIFACTORY_MCP_KEY=acw_notakey")
	if _, text, isErr := call(t, none, "whoami", nil); !isErr || !strings.Contains(text, "key create") {
		t.Fatalf("bad key: %v %s", isErr, text)
	}
	keys := e.admin("", "key", "list", "--json")
	var list []map[string]any
	json.Unmarshal([]byte(keys), &list)
	for _, k := range list {
		if k["name"] == "ro" {
			e.admin("", "key", "revoke", k["id"].(string))
		}
	}
	if _, text, isErr := call(t, ro, "project_list", nil); !isErr || !strings.Contains(text, "revoked") {
		t.Fatalf("revoked key still works: %s", text)
	}
}

func TestE2E_WaitBudget(t *testing.T) {
	e := newE2E(t, "AIFACTORY_CLONE_WAIT=1s")
	repo := bulkRepo(t, e.srv, "org/slow")
	hold := e.srv.Hold("org/slow")
	c := e.client()
	log := watchProgress(c)
	out, text, isErr := callReq(t, c, createRequest(repo.URL, "wait-1"))
	if isErr || out["project"].(map[string]any)["status"] != "cloning" {
		t.Fatalf("create: %s", text)
	}
	log.mu.Lock()
	atAnswer := len(log.items)
	log.mu.Unlock()
	id := out["project"].(map[string]any)["id"].(string)
	// Another call is answered while the clone is held.
	if _, text, isErr := call(t, c, "whoami", nil); isErr {
		t.Fatal(text)
	}
	hold.Release()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ = call(t, c, "project_get", map[string]any{"projectId": id})
		status := out["project"].(map[string]any)["status"]
		if status == "ready" {
			break
		}
		if status != "cloning" || time.Now().After(deadline) {
			t.Fatalf("status %v", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The request ended with its answer, and so did its progress: the
	// clone that went on reported nothing more under its token.
	call(t, c, "whoami", nil)
	log.mu.Lock()
	defer log.mu.Unlock()
	if late := len(log.items) - atAnswer; late != 0 {
		t.Fatalf("%d progress notifications after the answer: %v", late, log.items[atAnswer:])
	}
}

func TestE2E_StdoutIsOnlyProtocol(t *testing.T) {
	e := newE2E(t, "AIFACTORY_LOG_LEVEL=debug")
	cmd := exec.Command(binPath)
	cmd.Env = e.env
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"project_create","arguments":{"gitUrl":"https://127.0.0.1:1/x/y.git"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"handover","arguments":{"cwd":"/w/app"}}}`,
	}, "\n") + "\n"
	cmd.Stdin = strings.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg["jsonrpc"] != "2.0" {
			t.Fatalf("stdout line is not JSON-RPC: %q", sc.Text())
		}
		lines++
	}
	if lines != 4 {
		t.Fatalf("%d responses on stdout, want 4:\n%s", lines, out)
	}
	if !strings.Contains(stderr.String(), "serving MCP") {
		t.Fatalf("logs did not go to stderr: %s", stderr.String())
	}
}

// bulkRepo is a repository large enough that git reports progress and a
// held response stops the clone midway.
func bulkRepo(t *testing.T, srv *gittest.Server, name string) *gittest.Repo {
	repo := srv.NewRepo(t, name, gittest.RepoOptions{})
	files := map[string]string{}
	for i := 0; i < 100; i++ {
		files[fmt.Sprintf("f%d.txt", i)] = strings.Repeat(fmt.Sprintf("%d lorem ipsum %d\n", i, i*7919), 50)
	}
	repo.Commit(t, files, "bulk")
	return repo
}

// progressLog collects the notifications/progress a client receives.
type progressLog struct {
	mu    sync.Mutex
	items []map[string]any
	first chan struct{}
	once  sync.Once
}

func watchProgress(c *client.Client) *progressLog {
	l := &progressLog{first: make(chan struct{})}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		l.mu.Lock()
		l.items = append(l.items, n.Params.AdditionalFields)
		l.mu.Unlock()
		l.once.Do(func() { close(l.first) })
	})
	return l
}

func createRequest(url, progressToken string) mcp.CallToolRequest {
	req := mcp.CallToolRequest{}
	req.Params.Name = "project_create"
	req.Params.Arguments = map[string]any{"gitUrl": url}
	if progressToken != "" {
		req.Params.Meta = &mcp.Meta{ProgressToken: progressToken}
	}
	return req
}

func TestE2E_CloneProgress(t *testing.T) {
	e := newE2E(t)
	repo := bulkRepo(t, e.srv, "org/progress")
	c := e.client()
	log := watchProgress(c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, createRequest(repo.URL, "clone-1"))
	if err != nil || res.IsError {
		t.Fatalf("create: %v %v", err, res)
	}
	select {
	case <-log.first:
	case <-ctx.Done():
		t.Fatal("no notifications/progress for a request with a progressToken")
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	last := 0.0
	for _, n := range log.items {
		progress, _ := n["progress"].(float64)
		msg, _ := n["message"].(string)
		if n["progressToken"] != "clone-1" || progress <= last || msg == "" {
			t.Fatalf("progress notification %v after progress %v", n, last)
		}
		last = progress
	}

	// Without a token, no progress is sent.
	other := bulkRepo(t, e.srv, "org/quiet")
	before := len(log.items)
	log.mu.Unlock()
	res, err = c.CallTool(ctx, createRequest(other.URL, ""))
	log.mu.Lock()
	if err != nil || res.IsError {
		t.Fatalf("create: %v %v", err, res)
	}
	if len(log.items) != before {
		t.Fatalf("%d progress notifications without a progressToken", len(log.items)-before)
	}
}

func TestE2E_CancelStopsClone(t *testing.T) {
	e := newE2E(t)
	repo := bulkRepo(t, e.srv, "org/cancel")
	hold := e.srv.Hold("org/cancel")
	c := e.client()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-hold.Reached()
		cancel() // the client sends notifications/cancelled
	}()
	if _, err := c.CallTool(ctx, createRequest(repo.URL, "")); err == nil {
		t.Fatal("cancelled call answered")
	}
	// The held response is never released: only the cancellation can end
	// the clone, which then leaves neither a row nor a directory.
	workspace := filepath.Join(e.home, "workspaces")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := call(t, c, "project_list", nil)
		entries, _ := os.ReadDir(workspace)
		tmp, _ := os.ReadDir(filepath.Join(workspace, ".aifactory-tmp"))
		if len(out["projects"].([]any)) == 0 && len(entries) <= 1 && len(tmp) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after cancellation: projects %v, workspace %v, temporary %v", out["projects"], entries, tmp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	hold.Release()
	out, text, isErr := call(t, c, "project_create", map[string]any{"gitUrl": repo.URL})
	if isErr || out["created"] != true || out["project"].(map[string]any)["status"] != "ready" {
		t.Fatalf("create after a cancelled one: %s", text)
	}
}

func TestE2E_ListPages(t *testing.T) {
	e := newE2E(t)
	c := e.client()
	dirs := t.TempDir()
	const n = 53
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		dir := filepath.Join(dirs, fmt.Sprintf("app%02d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, text, isErr := call(t, c, "project_create", map[string]any{"path": dir})
		if isErr {
			t.Fatalf("register %s: %s", dir, text)
		}
		want[out["project"].(map[string]any)["id"].(string)] = true
	}
	seen := map[string]bool{}
	args := map[string]any{}
	pages := 0
	for {
		out, text, isErr := call(t, c, "project_list", args)
		if isErr {
			t.Fatalf("project_list %v: %s", args, text)
		}
		pages++
		projects := out["projects"].([]any)
		if len(projects) > 50 {
			t.Fatalf("page of %d", len(projects))
		}
		for _, p := range projects {
			id := p.(map[string]any)["id"].(string)
			if seen[id] || !want[id] {
				t.Fatalf("page %d lists %s twice or unknown", pages, id)
			}
			seen[id] = true
		}
		next, ok := out["nextCursor"].(string)
		if !ok {
			break
		}
		args = map[string]any{"cursor": next}
	}
	if pages != 2 || len(seen) != n {
		t.Fatalf("%d pages, %d projects; want 2 pages, %d projects", pages, len(seen), n)
	}
	if _, text, isErr := call(t, c, "project_list", map[string]any{"cursor": "not-a-cursor"}); !isErr || !strings.Contains(text, "nextCursor") {
		t.Fatalf("bad cursor: %v %q", isErr, text)
	}
}
