package clone_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/clone/gittest"
	"github.com/aifactory/aifactory-mcp/store"
	"github.com/fernet/fernet-go"
)

type env struct {
	t     *testing.T
	db    *store.DB
	box   *store.Box
	svc   *clone.Service
	root  string
	srv   *gittest.Server
	actor *store.Actor
	org   *store.Org
}

func newEnv(t *testing.T, mod func(*clone.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var k fernet.Key
	_ = k.Generate()
	box, _ := store.NewBox([]*fernet.Key{&k})
	org, err := db.CreateOrg(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	e := &env{t: t, db: db, box: box, root: filepath.Join(dir, "ws"), srv: srv, org: org,
		actor: &store.Actor{OrgID: org.ID, OrgSlug: "acme", KeyID: "k1", Scopes: []string{"*"}, Via: "mcp"}}
	e.svc = e.newService(mod)
	return e
}

func (e *env) newService(mod func(*clone.Config)) *clone.Service {
	e.t.Logf("clone engine: %s", engine)
	cfg := clone.Config{DB: e.db, Box: e.box, WorkspaceRoot: e.root, CloneWait: time.Minute, Engine: engine,
		Policy: clone.NetPolicy{AllowPrivateNetworks: true, RootCAs: e.srv.CertPool}}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := clone.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(svc.Close)
	return svc
}

func (e *env) credential(name, host, token string) *store.Credential {
	e.t.Helper()
	c, err := e.db.CreateCredential(context.Background(), e.box, e.org.ID, name, host, e.srv.User, store.NewSecret(token))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) tmpEntries() []string {
	entries, _ := os.ReadDir(filepath.Join(e.svc.Root(), ".aifactory-tmp"))
	var names []string
	for _, x := range entries {
		names = append(names, x.Name())
	}
	return names
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if store.ErrorCode(err) != code {
		t.Fatalf("error = %v (code %q), want code %q", err, store.ErrorCode(err), code)
	}
}

func TestCreate_PublicAnonymous(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	head := repo.Commit(t, map[string]string{"src/main.go": "package main\n"}, "add main")
	var phases []string
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL,
		Progress: func(p clone.Progress) { phases = append(phases, p.Phase) }})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Project
	if !res.Created || p.Status != store.StatusReady || p.Head != head || p.Branch != "main" || p.Name != "app" || p.Source != "clone" {
		t.Fatalf("project = %+v", p)
	}
	if p.Path != filepath.Join(e.svc.Root(), "app") {
		t.Fatalf("path = %s", p.Path)
	}
	if b, err := os.ReadFile(filepath.Join(p.Path, "src/main.go")); err != nil || string(b) != "package main\n" {
		t.Fatalf("checkout: %q %v", b, err)
	}
	if len(phases) < 2 || phases[0] != clone.PhaseConnecting || phases[len(phases)-1] != clone.PhaseDone {
		t.Fatalf("progress phases = %v", phases)
	}
	if left := e.tmpEntries(); len(left) != 0 {
		t.Fatalf("temporary leftovers: %v", left)
	}
	audit, _ := e.db.ListAudit(context.Background(), e.org.ID, 10)
	if len(audit) != 1 || audit[0].Action != "mcp.project.create" || audit[0].GitURL != repo.URL || audit[0].Outcome != "ok" {
		t.Fatalf("audit = %+v", audit[0])
	}
}

func TestCreate_PrivateWithCredential(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/secret", gittest.RepoOptions{Private: true})
	cred := e.credential("bot", e.srv.Host, e.srv.Password)
	ctx := context.Background()

	t.Run("ErrAnonymous", func(t *testing.T) {
		_, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL})
		wantCode(t, err, store.EREMOTE)
		if !strings.Contains(err.Error(), "not found or access denied") || !strings.Contains(err.Error(), "gitCredentialId") {
			t.Fatalf("message = %v", err)
		}
		if list, _ := e.db.ListProjects(ctx, e.org.ID, "", 50); len(list) != 0 {
			t.Fatalf("failed clone left a row: %+v", list[0])
		}
		if entries, _ := os.ReadDir(e.svc.Root()); len(entries) != 1 {
			t.Fatalf("failed clone left files: %v", entries)
		}
	})
	t.Run("ErrWrongToken", func(t *testing.T) {
		bad := e.credential("stale", e.srv.Host, "wrong-token-SENTINEL")
		_, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL, CredentialID: bad.ID})
		if err == nil || !strings.Contains(err.Error(), "check credential stale") || strings.Contains(err.Error(), "SENTINEL") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		res, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL, CredentialID: cred.ID})
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := os.ReadFile(filepath.Join(res.Project.Path, ".git", "config"))
		if strings.Contains(string(cfg), e.srv.Password) || strings.Contains(string(cfg), "@") || strings.Contains(string(cfg), "http://") || strings.Contains(string(cfg), "Bearer") || !strings.Contains(string(cfg), repo.URL) {
			t.Fatalf(".git/config:\n%s", cfg)
		}
		got, _ := e.db.GetCredential(ctx, e.org.ID, cred.ID)
		if got.LastUsedAt == nil {
			t.Fatal("lastUsedAt not stamped")
		}
		if res.Project.GitCredentialID != cred.ID {
			t.Fatalf("credential id not stored: %+v", res.Project)
		}
	})
	t.Run("ErrOtherOrgsCredential", func(t *testing.T) {
		other, _ := e.db.CreateOrg(ctx, "other", "")
		a := &store.Actor{OrgID: other.ID, KeyID: "k2", Via: "mcp"}
		_, err := e.svc.Create(ctx, a, clone.CreateRequest{GitURL: repo.URL + "-x", CredentialID: cred.ID})
		wantCode(t, err, store.ENOTFOUND)
	})
	t.Run("ErrUnknownCredential", func(t *testing.T) {
		before := e.srv.Requests()
		_, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: e.srv.URL + "/org/other.git", CredentialID: "nope"})
		wantCode(t, err, store.ENOTFOUND)
		if e.srv.Requests() != before {
			t.Fatal("an unknown credential id still reached the network")
		}
	})
}

func TestCreate_HostBinding(t *testing.T) {
	e := newEnv(t, nil)
	other := gittest.NewServer(t)
	repo := other.NewRepo(t, "org/app", gittest.RepoOptions{})
	cred := e.credential("bot", e.srv.Host, e.srv.Password) // bound to the first server
	_, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL, CredentialID: cred.ID})
	wantCode(t, err, store.EFORBIDDEN)
	if other.Requests() != 0 || other.AuthHeaders() != 0 {
		t.Fatalf("the other host saw %d requests", other.Requests())
	}
}

func TestCreate_RedirectNeverCarriesCredential(t *testing.T) {
	e := newEnv(t, func(c *clone.Config) {})
	second := gittest.NewServer(t)
	target := second.NewRepo(t, "org/moved", gittest.RepoOptions{})
	e.srv.Redirect("org/app", target.URL)
	cred := e.credential("bot", e.srv.Host, e.srv.Password)
	// Both servers' certificates are trusted.
	e.svc = e.newService(func(c *clone.Config) {
		pool := e.srv.CertPool.Clone()
		pool.AddCert(mustCert(t, second))
		c.Policy.RootCAs = pool
	})
	_, _ = e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: e.srv.URL + "/org/app.git", CredentialID: cred.ID})
	if second.AuthHeaders() != 0 {
		t.Fatalf("the redirect target received %d Authorization headers", second.AuthHeaders())
	}
	if e.srv.AuthHeaders() == 0 {
		t.Fatal("the bound host never received the credential: the test proves nothing")
	}
}

// Plain http:// is refused unless the operator allows it, and even then
// never carries a credential and is never reached by a redirect from https.
func TestCreate_PlainHTTP(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	plain := gittest.NewPlainServer(t)
	repo := plain.NewRepo(t, "org/open", gittest.RepoOptions{})

	_, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL})
	wantCode(t, err, store.EINVALID)
	if !strings.Contains(err.Error(), "https://") || plain.Requests() != 0 {
		t.Fatalf("err = %v; %d requests", err, plain.Requests())
	}

	allowed := e.newService(func(c *clone.Config) { c.Policy.AllowHTTP = true })
	cred := e.credential("bot", plain.Host, plain.Password)
	_, err = allowed.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL, CredentialID: cred.ID})
	wantCode(t, err, store.EFORBIDDEN)
	if plain.Requests() != 0 {
		t.Fatalf("a credential's clone over http made %d requests", plain.Requests())
	}

	e.srv.Redirect("org/down", repo.URL)
	_, err = allowed.Create(ctx, e.actor, clone.CreateRequest{GitURL: e.srv.URL + "/org/down.git"})
	if err == nil || !strings.Contains(err.Error(), "non-https") || plain.Requests() != 0 {
		t.Fatalf("https → http redirect: err = %v; %d requests", err, plain.Requests())
	}

	res, err := allowed.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL})
	if err != nil || res.Project.Status != store.StatusReady || res.Project.GitURL != repo.URL {
		t.Fatalf("%+v %v", res, err)
	}
	head := repo.Commit(t, map[string]string{"b.txt": "b\n"}, "b")
	synced, err := allowed.Sync(ctx, e.actor, res.Project.ID)
	if err != nil || !synced.Updated || synced.Head != head {
		t.Fatalf("sync over http: %+v %v", synced, err)
	}
	if plain.AuthHeaders() != 0 {
		t.Fatalf("%d Authorization headers went over http", plain.AuthHeaders())
	}
}

func TestCreate_IdempotentAndRaces(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL})
			if err == nil {
				ids[i] = res.Project.ID
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("call %d: id %s err %v (first id %s)", i, ids[i], errs[i], ids[0])
		}
	}
	upper := strings.Replace(strings.TrimSuffix(repo.URL, ".git"), "127.0.0.1", "127.0.0.1", 1) + "/"
	res, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: strings.ToUpper(upper[:8]) + upper[8:]})
	if err != nil || res.Created || res.Project.ID != ids[0] {
		t.Fatalf("respelled URL: %+v %v", res, err)
	}
	entries, _ := os.ReadDir(e.svc.Root())
	if len(entries) != 2 { // app and .aifactory-tmp
		t.Fatalf("workspace holds %d entries", len(entries))
	}
}

func TestCreate_NeverReusesDirectory(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	mine := filepath.Join(e.svc.Root(), "app")
	if err := os.MkdirAll(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mine, "keep.txt"), []byte("mine"), 0o644)
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL, Name: "Display Name"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project.Path != mine+"-2" || res.Project.Name != "Display Name" {
		t.Fatalf("project = %+v", res.Project)
	}
	if b, _ := os.ReadFile(filepath.Join(mine, "keep.txt")); string(b) != "mine" {
		t.Fatal("existing directory was touched")
	}
}

func TestCreate_WaitBudgetThenReady(t *testing.T) {
	e := newEnv(t, func(c *clone.Config) { c.CloneWait = 20 * time.Millisecond })
	repo, hold := e.heldRepo("org/slow")
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project.Status != store.StatusCloning || !res.Created {
		t.Fatalf("project = %+v", res.Project)
	}
	got, _ := e.db.GetProject(context.Background(), e.org.ID, res.Project.ID)
	if got.Status != store.StatusCloning {
		t.Fatalf("status = %s", got.Status)
	}
	hold.Release()
	e.svc.Wait()
	got, _ = e.db.GetProject(context.Background(), e.org.ID, res.Project.ID)
	if got.Status != store.StatusReady || got.Head == "" {
		t.Fatalf("after release: %+v", got)
	}
}

func TestCreate_CancelCleansUp(t *testing.T) {
	e := newEnv(t, nil)
	repo, hold := e.heldRepo("org/slow")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hold.Reached(); cancel() }()
	_, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{GitURL: repo.URL})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v", err)
	}
	if list, _ := e.db.ListProjects(context.Background(), e.org.ID, "", 50); len(list) != 0 {
		t.Fatalf("row left: %+v", list[0])
	}
	if left := e.tmpEntries(); len(left) != 0 {
		t.Fatalf("temporary leftovers: %v", left)
	}
	if _, err := os.Stat(filepath.Join(e.svc.Root(), "slow")); !os.IsNotExist(err) {
		t.Fatal("half clone at the target path")
	}
}

func TestCreate_FailedAfterAnswerThenRetrySameID(t *testing.T) {
	e := newEnv(t, func(c *clone.Config) { c.CloneWait = 20 * time.Millisecond })
	repo, hold := e.heldRepo("org/slow")
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL})
	if err != nil || res.Project.Status != store.StatusCloning {
		t.Fatalf("%+v %v", res, err)
	}
	<-hold.Reached()
	e.svc.Close() // the server shuts down under the clone
	got, _ := e.db.GetProject(context.Background(), e.org.ID, res.Project.ID)
	if got.Status != store.StatusFailed || got.Error == "" {
		t.Fatalf("after shutdown: %+v", got)
	}
	hold.Release()
	svc := e.newService(nil)
	again, err := svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL})
	if err != nil || again.Project.ID != res.Project.ID || again.Project.Status != store.StatusReady {
		t.Fatalf("retry: %+v %v", again, err)
	}
}

func TestRecover(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tmpArea := filepath.Join(e.svc.Root(), ".aifactory-tmp")
	dead := &store.Project{OrgID: e.org.ID, Name: "dead", Path: filepath.Join(e.svc.Root(), "dead"), GitURL: "https://h/dead",
		URLKey: "h/dead", Source: "clone", Status: "cloning", CloneTmp: filepath.Join(tmpArea, "dead-id")}
	if err := e.db.InsertProject(ctx, dead); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dead.CloneTmp, ".git"), 0o755)
	orphan := filepath.Join(tmpArea, "orphan")
	os.MkdirAll(orphan, 0o755)
	if err := e.svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.GetProject(ctx, e.org.ID, dead.ID)
	if got.Status != store.StatusFailed {
		t.Fatalf("dead clone status = %s", got.Status)
	}
	if left := e.tmpEntries(); len(left) != 0 {
		t.Fatalf("leftovers after recover: %v", left)
	}
}

func mustCert(t *testing.T, s *gittest.Server) *x509.Certificate {
	t.Helper()
	return s.Certificate()
}

// heldRepo is a repository with enough data that its clone can be held
// mid-transfer, and the hold on it.
func (e *env) heldRepo(name string) (*gittest.Repo, *gittest.Hold) {
	e.t.Helper()
	repo := e.srv.NewRepo(e.t, name, gittest.RepoOptions{})
	repo.Commit(e.t, bigFiles(200), "bulk")
	return repo, e.srv.Hold(name)
}

func bigFiles(n int) map[string]string {
	files := map[string]string{}
	for i := 0; i < n; i++ {
		files["data/f"+strconv.Itoa(i)+".txt"] = strings.Repeat(strconv.Itoa(i*7919)+" lorem ipsum dolor\n", 64)
	}
	return files
}

func TestCreate_EmptyRepository(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/new", gittest.RepoOptions{Empty: true})
	_, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL})
	wantCode(t, err, store.EREMOTE)
	if !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("message = %v", err)
	}
	if list, _ := e.db.ListProjects(context.Background(), e.org.ID, "", 50); len(list) != 0 {
		t.Fatalf("an empty repository left a row: %+v", list[0])
	}
	if entries, _ := os.ReadDir(e.svc.Root()); len(entries) != 1 {
		t.Fatalf("an empty repository left files: %v", entries)
	}
}

// A repository renamed on its host answers with a redirect: the clone
// follows it, with the credential, since the host is the same.
func TestCreate_SameHostRedirect(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/new-name", gittest.RepoOptions{Private: true})
	e.srv.Redirect("org/old-name", repo.URL)
	cred := e.credential("bot", e.srv.Host, e.srv.Password)
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: e.srv.URL + "/org/old-name.git", CredentialID: cred.ID})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project.Status != store.StatusReady || res.Project.Head != repo.Head(t, "main") {
		t.Fatalf("project %+v, want head %s", res.Project, repo.Head(t, "main"))
	}
}
