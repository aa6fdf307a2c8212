package handover_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/clone/gittest"
	"github.com/aifactory/aifactory-mcp/handover"
	"github.com/aifactory/aifactory-mcp/store"
)

func setup(t *testing.T) (*handover.Resolver, *store.Actor, *gittest.Server, *store.DB) {
	t.Helper()
	srv := gittest.NewServer(t)
	r, actor, db := newResolver(t, clone.NetPolicy{AllowPrivateNetworks: true, RootCAs: srv.CertPool})
	return r, actor, srv, db
}

// newResolver is a resolver over a fresh store with one org, cloning under
// policy.
func newResolver(t *testing.T, policy clone.NetPolicy) (*handover.Resolver, *store.Actor, *store.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	org, _ := db.CreateOrg(ctx, "acme", "")
	svc, err := clone.New(clone.Config{DB: db, WorkspaceRoot: filepath.Join(dir, "ws"), Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &handover.Resolver{DB: db, Clone: svc}, &store.Actor{OrgID: org.ID, OrgSlug: "acme", KeyID: "k", Via: "mcp"}, db
}

func TestResolve(t *testing.T) {
	r, actor, srv, db := setup(t)
	ctx := context.Background()
	repo := srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	created, err := r.Resolve(ctx, actor, handover.Request{Cwd: "/remote/laptop/app", GitURL: repo.URL, CanRegister: true})
	if err != nil || created.Matched != handover.MatchedCreated {
		t.Fatalf("register: %+v %v", created, err)
	}
	p := created.Project

	t.Run("Subdirectory", func(t *testing.T) {
		sub := filepath.Join(p.Path, "src", "pkg")
		os.MkdirAll(sub, 0o755)
		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: sub})
		if err != nil || res.Matched != handover.MatchedPath || res.Project.ID != p.ID {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("SymlinkedCwd", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(p.Path, link); err != nil {
			t.Fatal(err)
		}
		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: link})
		if err != nil || res.Matched != handover.MatchedPath || res.Project.ID != p.ID {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("SiblingWithPrefixNameIsNotInside", func(t *testing.T) {
		sibling := p.Path + "2"
		os.MkdirAll(sibling, 0o755)
		_, err := r.Resolve(ctx, actor, handover.Request{Cwd: sibling})
		if err == nil || !strings.Contains(err.Error(), "pass gitUrl") {
			t.Fatalf("sibling matched: %v", err)
		}
	})
	t.Run("LocalCloneRespelledURL", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "mine")
		gittest.Git(t, "", "init", "-q", local)
		gittest.Git(t, local, "remote", "add", "origin", strings.Replace(strings.TrimSuffix(repo.URL, ".git"), "https://", "https://someone:secret@", 1))
		gittest.Git(t, local, "commit", "-q", "--allow-empty", "-m", "x")
		gittest.Git(t, local, "checkout", "-q", "--detach")
		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: local})
		if err != nil || res.Matched != handover.MatchedGitURL || res.Project.ID != p.ID {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("UnregisteredOriginCreated", func(t *testing.T) {
		other := srv.NewRepo(t, "org/other", gittest.RepoOptions{})
		local := filepath.Join(t.TempDir(), "other")
		gittest.Git(t, "", "init", "-q", local)
		gittest.Git(t, local, "remote", "add", "origin", "https://tok@"+strings.TrimPrefix(other.URL, "https://"))
		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: local, CanRegister: true})
		if err != nil || res.Matched != handover.MatchedCreated || strings.Contains(res.Project.GitURL, "tok") {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("ErrNotGitWithoutURL", func(t *testing.T) {
		_, err := r.Resolve(ctx, actor, handover.Request{Cwd: t.TempDir(), CanRegister: true})
		if store.ErrorCode(err) != store.EINVALID || !strings.Contains(err.Error(), "gitUrl") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrReadOnlyWouldRegister", func(t *testing.T) {
		third := srv.NewRepo(t, "org/third", gittest.RepoOptions{})
		_, err := r.Resolve(ctx, actor, handover.Request{Cwd: "/x", GitURL: third.URL})
		if store.ErrorCode(err) != store.EFORBIDDEN || !strings.Contains(err.Error(), "project:write") {
			t.Fatalf("err = %v", err)
		}
		if _, err := db.ProjectByURLKey(ctx, actor.OrgID, strings.TrimPrefix(strings.TrimSuffix(third.URL, ".git"), "https://")); err == nil {
			t.Fatal("a read-only handover registered a project")
		}
	})
	t.Run("ErrSeveralCredentials", func(t *testing.T) {
		r2, actor2, srv2, db2 := setup(t)
		var k = mustBox(t)
		for _, n := range []string{"a", "b"} {
			if _, err := db2.CreateCredential(ctx, k, actor2.OrgID, n, srv2.Host, "", store.NewSecret("t")); err != nil {
				t.Fatal(err)
			}
		}
		repo2 := srv2.NewRepo(t, "org/x", gittest.RepoOptions{})
		_, err := r2.Resolve(ctx, actor2, handover.Request{Cwd: "/x", GitURL: repo2.URL, CanRegister: true})
		if err == nil || !strings.Contains(err.Error(), "a, b") || !strings.Contains(err.Error(), "gitCredentialId") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Handover follows the operator's http policy as project_create does:
// plain http:// is refused by default and used when allowed, from an
// explicit gitUrl or from the checkout's origin.
func TestResolve_PlainHTTPFollowsPolicy(t *testing.T) {
	ctx := context.Background()
	plain := gittest.NewPlainServer(t)
	repo := plain.NewRepo(t, "org/open", gittest.RepoOptions{})
	other := plain.NewRepo(t, "org/other", gittest.RepoOptions{})
	for _, allow := range []bool{false, true} {
		r, actor, db := newResolver(t, clone.NetPolicy{AllowPrivateNetworks: true, AllowHTTP: allow})
		// A credential for the host is not picked for plain http: the
		// repository is cloned anonymously instead of being refused.
		if _, err := db.CreateCredential(ctx, mustBox(t), actor.OrgID, "bot", plain.Host, "", store.NewSecret("t")); err != nil {
			t.Fatal(err)
		}

		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: "/laptop/open", GitURL: repo.URL, CanRegister: true})
		if !allow {
			if store.ErrorCode(err) != store.EINVALID || plain.Requests() != 0 {
				t.Fatalf("http refused by default: %+v %v (%d requests)", res, err, plain.Requests())
			}
			continue
		}
		if err != nil || res.Matched != handover.MatchedCreated || res.Project.GitURL != repo.URL || res.Project.GitCredentialID != "" {
			t.Fatalf("explicit http gitUrl: %+v %v", res, err)
		}
		if plain.AuthHeaders() != 0 {
			t.Fatalf("%d Authorization headers went over http", plain.AuthHeaders())
		}
		local := filepath.Join(t.TempDir(), "other")
		gittest.Git(t, "", "init", "-q", local)
		gittest.Git(t, local, "remote", "add", "origin", "http://someone:tok@"+strings.TrimPrefix(other.URL, "http://"))
		res, err = r.Resolve(ctx, actor, handover.Request{Cwd: local, CanRegister: true})
		if err != nil || res.Matched != handover.MatchedCreated || res.Project.GitURL != other.URL {
			t.Fatalf("http origin: %+v %v", res, err)
		}
	}
}

func TestToHTTPS(t *testing.T) {
	for in, want := range map[string]string{
		"git@github.com:org/app.git":              "https://github.com/org/app.git",
		"ssh://git@github.com:22/org/app.git":     "https://github.com/org/app.git",
		"https://user:tok@github.com/org/app.git": "https://github.com/org/app.git",
		"file:///srv/x":                           "",
	} {
		if got := handover.ToHTTPS(in); got != want {
			t.Errorf("ToHTTPS(%q) = %q, want %q", in, got, want)
		}
	}
}
