package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aifactory/aifactory-mcp/clone/gittest"
)

func TestProjectCommands(t *testing.T) {
	e := newE2E(t)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{Private: true})
	cred := e.admin(e.srv.Password, "credential", "add", "--name", "bot", "--host", e.srv.Host, "--username", e.srv.User, "--token-stdin")
	var added struct {
		Project struct{ ID, Path, Status string }
		Created bool
	}
	if err := json.Unmarshal([]byte(e.admin("", "project", "add", repo.URL, "--credential", cred)), &added); err != nil {
		t.Fatal(err)
	}
	if !added.Created || added.Project.Status != "ready" {
		t.Fatalf("project add: %+v", added)
	}
	if !strings.Contains(e.admin("", "project", "list"), added.Project.ID) {
		t.Fatal("project list lacks the project")
	}
	head := repo.Commit(t, map[string]string{"a": "b"}, "more")
	if out := e.admin("", "project", "sync", added.Project.ID); !strings.Contains(out, head) {
		t.Fatalf("project sync: %s", out)
	}
	e.admin("", "sync")

	// handover from a subdirectory of the clone matches by path; a local
	// checkout elsewhere with the same origin matches by URL.
	sub := filepath.Join(added.Project.Path, "sub")
	os.MkdirAll(sub, 0o755)
	if out := e.admin("", "handover", "--cwd", sub); !strings.Contains(out, `"matched": "path"`) {
		t.Fatalf("handover by path: %s", out)
	}
	local := filepath.Join(t.TempDir(), "checkout")
	gittest.Git(t, "", "init", "-q", local)
	gittest.Git(t, local, "remote", "add", "origin", "https://user:tok@"+strings.ToUpper(e.srv.Host[:1])+e.srv.Host[1:]+"/org/app")
	if out := e.admin("", "handover", "--cwd", local); !strings.Contains(out, `"matched": "gitUrl"`) || strings.Contains(out, "tok@") {
		t.Fatalf("handover by URL: %s", out)
	}
	other := e.srv.NewRepo(t, "org/other", gittest.RepoOptions{})
	if out := e.admin("", "handover", "--cwd", "/nowhere/on/this/server", "--git-url", other.URL); !strings.Contains(out, `"matched": "created"`) {
		t.Fatalf("handover registering: %s", out)
	}
	e.admin("", "project", "remove", added.Project.ID, "--delete-files")
	if _, err := os.Stat(added.Project.Path); !os.IsNotExist(err) {
		t.Fatal("files not deleted")
	}
}
