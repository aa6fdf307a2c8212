package clone_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/clone/gittest"
	"github.com/aifactory/aifactory-mcp/store"
)

func (e *env) cloneRepo(repo *gittest.Repo, credID string) *store.Project {
	e.t.Helper()
	res, err := e.svc.Create(context.Background(), e.actor, clone.CreateRequest{GitURL: repo.URL, CredentialID: credID})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Project
}

func TestSync(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{Private: true})
	cred := e.credential("bot", e.srv.Host, e.srv.Password)
	p := e.cloneRepo(repo, cred.ID)

	t.Run("UpToDate", func(t *testing.T) {
		res, err := e.svc.Sync(ctx, e.actor, p.ID)
		if err != nil || res.Updated || res.Head != p.Head {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("FastForwardKeepsUntracked", func(t *testing.T) {
		os.WriteFile(filepath.Join(p.Path, "notes.txt"), []byte("agent notes"), 0o644)
		head := repo.Commit(t, map[string]string{"new.txt": "new"}, "upstream change")
		res, err := e.svc.Sync(ctx, e.actor, p.ID)
		if err != nil || !res.Updated || res.Head != head || res.PreviousHead != p.Head || res.Project.Head != head {
			t.Fatalf("%+v %v", res, err)
		}
		if b, _ := os.ReadFile(filepath.Join(p.Path, "new.txt")); string(b) != "new" {
			t.Fatal("update not checked out")
		}
		if b, _ := os.ReadFile(filepath.Join(p.Path, "notes.txt")); string(b) != "agent notes" {
			t.Fatal("untracked file lost")
		}
	})
	t.Run("ErrLocalChangesKept", func(t *testing.T) {
		os.WriteFile(filepath.Join(p.Path, "new.txt"), []byte("local edit"), 0o644)
		repo.Commit(t, map[string]string{"new.txt": "upstream edit"}, "conflicting change")
		before, _ := e.db.GetProject(ctx, e.org.ID, p.ID)
		_, err := e.svc.Sync(ctx, e.actor, p.ID)
		wantCode(t, err, store.ECONFLICT)
		if !strings.Contains(err.Error(), "new.txt") {
			t.Fatalf("message = %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(p.Path, "new.txt")); string(b) != "local edit" {
			t.Fatal("local change lost")
		}
		after, _ := e.db.GetProject(ctx, e.org.ID, p.ID)
		if after.Head != before.Head || after.LastSyncError == "" {
			t.Fatalf("after refused sync: %+v", after)
		}
		head := strings.TrimSpace(gittest.Git(t, p.Path, "rev-parse", "HEAD"))
		if head != before.Head {
			t.Fatal("HEAD moved although the sync was refused")
		}
		gittest.Git(t, p.Path, "checkout", "--", "new.txt")
		if _, err := e.svc.Sync(ctx, e.actor, p.ID); err != nil {
			t.Fatalf("sync after reverting: %v", err)
		}
		got, _ := e.db.GetProject(ctx, e.org.ID, p.ID)
		if got.LastSyncError != "" {
			t.Fatalf("lastSyncError not cleared: %q", got.LastSyncError)
		}
	})
	t.Run("ErrDiverged", func(t *testing.T) {
		gittest.Git(t, p.Path, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "local work")
		local := strings.TrimSpace(gittest.Git(t, p.Path, "rev-parse", "HEAD"))
		repo.Rewrite(t, map[string]string{"other.txt": "x"}, "rewritten upstream")
		_, err := e.svc.Sync(ctx, e.actor, p.ID)
		wantCode(t, err, store.ECONFLICT)
		if !strings.Contains(err.Error(), "diverged") {
			t.Fatalf("message = %v", err)
		}
		if head := strings.TrimSpace(gittest.Git(t, p.Path, "rev-parse", "HEAD")); head != local {
			t.Fatal("local commit lost")
		}
	})
	t.Run("ErrPathProject", func(t *testing.T) {
		res, err := e.svc.Create(ctx, e.actor, clone.CreateRequest{Path: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Sync(ctx, e.actor, res.Project.ID)
		if err == nil || !strings.Contains(err.Error(), "no Git URL") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		other, _ := e.db.CreateOrg(ctx, "other", "")
		_, err := e.svc.Sync(ctx, &store.Actor{OrgID: other.ID, Via: "mcp"}, p.ID)
		wantCode(t, err, store.ENOTFOUND)
	})
}

func TestSyncAll_KeepsGoing(t *testing.T) {
	e := newEnv(t, nil)
	good := e.srv.NewRepo(t, "org/good", gittest.RepoOptions{})
	bad := e.srv.NewRepo(t, "org/bad", gittest.RepoOptions{})
	pg, pb := e.cloneRepo(good, ""), e.cloneRepo(bad, "")
	os.RemoveAll(filepath.Join(pb.Path, ".git"))
	head := good.Commit(t, map[string]string{"x": "y"}, "more")
	ok, failures, err := e.svc.SyncAll(context.Background(), e.actor)
	if err != nil || ok != 1 || len(failures) != 1 || failures[pb.ID] == nil {
		t.Fatalf("ok=%d failures=%v err=%v", ok, failures, err)
	}
	got, _ := e.db.GetProject(context.Background(), e.org.ID, pg.ID)
	if got.Head != head {
		t.Fatal("good project not synced")
	}
}

// Two processes on one workspace (here two Services on the same root and
// store, as a server and a `sync --every` beside it) never sync one
// clone at once: the second waits for the first, or gives up with its call.
func TestSync_OneAtATimeAcrossProcesses(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	p := e.cloneRepo(repo, "")
	other := e.newService(nil)
	// Enough data that the fetch's pack outlasts the hold's free first bytes.
	head := repo.Commit(t, bigFiles(200), "one")
	hold := e.srv.Hold("org/app")
	errc := make(chan error, 1)
	go func() {
		_, err := other.Sync(ctx, e.actor, p.ID)
		errc <- err
	}()
	select {
	case <-hold.Reached():
	case err := <-errc:
		t.Fatalf("the other sync was never held: %v", err)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := e.svc.Sync(short, e.actor, p.ID)
	cancel()
	wantCode(t, err, store.ECONFLICT)
	if !strings.Contains(err.Error(), "call project_sync again") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := e.db.GetProject(ctx, e.org.ID, p.ID); got.LastSyncError != "" {
		t.Fatalf("a sync that waited recorded an error: %q", got.LastSyncError)
	}
	// Deleting the files waits for the sync too, rather than moving the
	// tree away under it.
	short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = e.svc.Delete(short, e.actor, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true})
	cancel()
	wantCode(t, err, store.ECONFLICT)
	if !strings.Contains(err.Error(), "call project_delete again") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.Path, ".git")); err != nil {
		t.Fatalf("a refused delete touched the clone: %v", err)
	}

	hold.Release()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Sync(ctx, e.actor, p.ID)
	if err != nil || res.Updated || res.Head != head {
		t.Fatalf("after the other sync: %+v %v", res, err)
	}
	if _, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true}); err != nil {
		t.Fatal(err)
	}
	_, err = other.Sync(ctx, e.actor, p.ID)
	wantCode(t, err, store.ENOTFOUND)
	if n := clone.SyncLocks(e.svc) + clone.SyncLocks(other); n != 0 {
		t.Fatalf("%d sync locks left in memory", n)
	}
	left, _ := filepath.Glob(filepath.Join(e.svc.Root(), ".aifactory-tmp", "*.sync.lock"))
	if len(left) != 0 {
		t.Fatalf("lock files left: %v", left)
	}
}

func TestSync_CancelledChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	repo := e.srv.NewRepo(t, "org/app", gittest.RepoOptions{})
	p := e.cloneRepo(repo, "")
	repo.Commit(t, bigFiles(200), "one")
	hold := e.srv.Hold("org/app")
	defer hold.Release()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Sync(ctx, e.actor, p.ID)
		errc <- err
	}()
	select {
	case <-hold.Reached():
	case err := <-errc:
		t.Fatalf("the sync was never held: %v", err)
	}
	cancel()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "the sync from") || !strings.Contains(err.Error(), "were not changed") {
		t.Fatalf("err = %v", err)
	}
	if head := strings.TrimSpace(gittest.Git(t, p.Path, "rev-parse", "HEAD")); head != p.Head {
		t.Fatalf("HEAD moved to %s", head)
	}
	if _, err := os.Stat(filepath.Join(p.Path, "data")); !os.IsNotExist(err) {
		t.Fatalf("the fetched files appeared: %v", err)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	t.Run("CleanCloneWithFiles", func(t *testing.T) {
		p := e.cloneRepo(e.srv.NewRepo(t, "org/a", gittest.RepoOptions{}), "")
		res, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true})
		if err != nil || !res.FilesDeleted {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := os.Stat(p.Path); !os.IsNotExist(err) {
			t.Fatal("files still there")
		}
		if _, err := e.db.GetProject(ctx, e.org.ID, p.ID); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatal("row still there")
		}
	})
	t.Run("RegistrationOnly", func(t *testing.T) {
		p := e.cloneRepo(e.srv.NewRepo(t, "org/b", gittest.RepoOptions{}), "")
		res, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: p.ID})
		if err != nil || res.FilesDeleted {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := os.Stat(p.Path); err != nil {
			t.Fatal("files removed without deleteFiles")
		}
	})
	t.Run("ErrUnsavedWorkThenForce", func(t *testing.T) {
		p := e.cloneRepo(e.srv.NewRepo(t, "org/c", gittest.RepoOptions{}), "")
		os.WriteFile(filepath.Join(p.Path, "README.md"), []byte("edited"), 0o644)
		os.WriteFile(filepath.Join(p.Path, "scratch.txt"), []byte("new"), 0o644)
		gittest.Git(t, p.Path, "checkout", "-q", "-b", "feature")
		gittest.Git(t, p.Path, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "unpushed")
		_, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true})
		wantCode(t, err, store.ECONFLICT)
		for _, want := range []string{"README.md", "scratch.txt", "1 commit(s) on feature"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message lacks %q: %v", want, err)
			}
		}
		if _, err := e.db.GetProject(ctx, e.org.ID, p.ID); err != nil {
			t.Fatal("refused delete removed the registration")
		}
		if b, _ := os.ReadFile(filepath.Join(p.Path, "scratch.txt")); string(b) != "new" {
			t.Fatal("refused delete touched files")
		}
		res, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true, Force: true})
		if err != nil || !res.FilesDeleted {
			t.Fatalf("forced: %+v %v", res, err)
		}
	})
	t.Run("ErrPathProjectFiles", func(t *testing.T) {
		dir := t.TempDir()
		res, _ := e.svc.Create(ctx, e.actor, clone.CreateRequest{Path: dir})
		_, err := e.svc.Delete(ctx, e.actor, clone.DeleteRequest{ProjectID: res.Project.ID, DeleteFiles: true, Force: true})
		if err == nil || !strings.Contains(err.Error(), "never deleted") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Fatal("path project directory removed")
		}
		if _, err := e.db.GetProject(ctx, e.org.ID, res.Project.ID); err != nil {
			t.Fatal("refused delete removed the registration")
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		p := e.cloneRepo(e.srv.NewRepo(t, "org/d", gittest.RepoOptions{}), "")
		other, _ := e.db.CreateOrg(ctx, "other", "")
		_, err := e.svc.Delete(ctx, &store.Actor{OrgID: other.ID, Via: "mcp"}, clone.DeleteRequest{ProjectID: p.ID, DeleteFiles: true, Force: true})
		wantCode(t, err, store.ENOTFOUND)
		if _, err := os.Stat(p.Path); err != nil {
			t.Fatal("another org deleted the files")
		}
	})
}
