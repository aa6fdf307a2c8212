package clone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// SyncResult is project_sync's output.
type SyncResult struct {
	Project      *store.Project
	PreviousHead string
	Head         string
	Updated      bool
}

// Sync fetches the project's branch with its stored credential and
// fast-forwards it. Diverged history and local changes the update would
// touch are reported and recorded; nothing is reset, cleaned or lost.
func (s *Service) Sync(ctx context.Context, actor *store.Actor, projectID string) (*SyncResult, error) {
	p, err := s.db.GetProject(ctx, actor.OrgID, projectID)
	var res *SyncResult
	if err == nil {
		res, err = s.syncProject(ctx, p)
	}
	entry := store.AuditEntry{ResourceID: projectID}
	if p != nil {
		entry.GitURL, entry.CredentialID = p.GitURL, p.GitCredentialID
	}
	s.audit(ctx, actor, "project.sync", entry, err)
	return res, err
}

// SyncAll syncs every ready clone in every org once and keeps going after a
// failure; it returns how many were synced and the failures by project.
func (s *Service) SyncAll(ctx context.Context, actor *store.Actor) (int, map[string]error, error) {
	projects, err := s.db.ClonedProjects(ctx)
	if err != nil {
		return 0, nil, err
	}
	failures := map[string]error{}
	ok := 0
	for _, p := range projects {
		if ctx.Err() != nil {
			break
		}
		a := *actor
		a.OrgID = p.OrgID
		if _, err := s.Sync(ctx, &a, p.ID); err != nil {
			failures[p.ID] = err
			continue
		}
		ok++
	}
	return ok, failures, nil
}

func (s *Service) syncProject(ctx context.Context, p *store.Project) (*SyncResult, error) {
	switch {
	case p.Source == store.SourcePath:
		return nil, invalid("project %s was registered by path and has no Git URL to sync from; sync it with git in its directory", p.Name)
	case p.Status == store.StatusCloning:
		return nil, store.Errorf(store.ECONFLICT, "project %s is still cloning; call project_get until its status is ready, then sync", p.Name)
	case p.Status == store.StatusFailed:
		return nil, store.Errorf(store.ECONFLICT, "project %s failed to clone (%s); call project_create with its gitUrl to try again", p.Name, p.Error)
	}
	unlock, err := s.lockProject(ctx, p, "project_sync")
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A delete may have gone first while this call waited for the lock.
	if _, err := s.db.GetProject(ctx, p.OrgID, p.ID); err != nil {
		return nil, err
	}
	prev, head, err := s.pull(ctx, p)
	if err != nil {
		msg := store.ErrorMessage(err)
		if store.ErrorCode(err) == store.EINTERNAL {
			s.log.Error("sync failed", "project", p.ID, "err", err)
			msg = "sync failed with an internal error; see the server log"
		}
		_, _ = s.db.RecordSync(context.WithoutCancel(ctx), p.OrgID, p.ID, "", msg)
		return nil, err
	}
	np, err := s.db.RecordSync(context.WithoutCancel(ctx), p.OrgID, p.ID, head, "")
	if err != nil {
		return nil, err
	}
	return &SyncResult{Project: np, PreviousHead: prev, Head: head, Updated: prev != head}, nil
}

// pull is `git pull --ff-only` on the checked-out branch, fetching from the
// project's stored URL (not whatever .git/config now says).
func (s *Service) pull(ctx context.Context, p *store.Project) (prev, head string, err error) {
	u, err := ParseURL(p.GitURL, s.policy.AllowHTTP)
	if err != nil {
		return "", "", err
	}
	if err := s.policy.CheckHost(u.Host); err != nil {
		return "", "", err
	}
	auth, err := s.resolveCredential(ctx, p.OrgID, p.GitCredentialID, u)
	if err != nil {
		return "", "", err
	}
	defer tightenGC()()
	repo, err := openClone(p.Path)
	if err != nil {
		return "", "", store.Errorf(store.ENOTFOUND, "the clone of project %s is missing or damaged at %s; delete the project and create it again", p.Name, p.Path)
	}
	headRef, err := repo.Head()
	if err != nil {
		return "", "", err
	}
	if !headRef.Name().IsBranch() {
		return "", "", store.Errorf(store.ECONFLICT, "HEAD of project %s is detached; check out a branch, then sync", p.Name)
	}
	branch := headRef.Name().Short()
	prev = headRef.Hash().String()
	tracking := plumbing.NewRemoteReferenceName("origin", branch)
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{u.Clean}})
	fctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fopts := &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", branch, tracking))},
		Depth:      p.Depth,
		Tags:       git.NoTags,
	}
	err = remote.FetchContext(s.netContext(fctx, auth), fopts)
	if auth != nil && auth.used.Load() {
		_ = s.db.TouchCredential(context.WithoutCancel(ctx), p.OrgID, p.GitCredentialID)
	}
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", "", s.classify(fctx, opSync, err, u, auth)
	}
	remoteRef, err := repo.Reference(tracking, true)
	if err != nil {
		return "", "", store.Errorf(store.EREMOTE, "branch %s no longer exists in %s; check out another branch", branch, u.Clean)
	}
	target := remoteRef.Hash()
	if target == headRef.Hash() {
		return prev, prev, nil
	}
	headCommit, err := repo.CommitObject(headRef.Hash())
	if err != nil {
		return "", "", err
	}
	targetCommit, err := repo.CommitObject(target)
	if err != nil {
		return "", "", err
	}
	if ok, _ := targetCommit.IsAncestor(headCommit); ok {
		return prev, prev, nil // local is ahead: nothing to fast-forward
	}
	if ok, err := headCommit.IsAncestor(targetCommit); err != nil || !ok {
		return "", "", store.Errorf(store.ECONFLICT, "branch %s of project %s has diverged from origin/%s; nothing was changed — merge or rebase it by hand", branch, p.Name, branch)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", "", err
	}
	if err := checkUpdateSafe(wt, headCommit, targetCommit); err != nil {
		return "", "", err
	}
	// MergeReset moves the branch and updates only the files that differ
	// between the two commits; checkUpdateSafe made sure none is modified.
	if err := wt.Reset(&git.ResetOptions{Commit: target, Mode: git.MergeReset}); err != nil {
		return "", "", err
	}
	return prev, target.String(), nil
}

// checkUpdateSafe refuses an update that would overwrite local changes or
// untracked files. go-git moves HEAD before it notices, so check first.
func checkUpdateSafe(wt *git.Worktree, from, to *object.Commit) error {
	fromTree, err := from.Tree()
	if err != nil {
		return err
	}
	toTree, err := to.Tree()
	if err != nil {
		return err
	}
	changes, err := object.DiffTree(fromTree, toTree)
	if err != nil {
		return err
	}
	status, err := wt.Status()
	if err != nil {
		return err
	}
	var blocked []string
	for _, c := range changes {
		for _, name := range []string{c.From.Name, c.To.Name} {
			if name == "" {
				continue
			}
			if fs, ok := status[name]; ok && (fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified) {
				blocked = append(blocked, name)
			}
		}
	}
	if len(blocked) == 0 {
		return nil
	}
	slices.Sort(blocked)
	blocked = slices.Compact(blocked)
	return store.Errorf(store.ECONFLICT, "local changes to %s would be overwritten by the update; commit or stash them, then sync again — nothing was changed", listSome(blocked, 5))
}

func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// LoopSync syncs every clone now and then every interval until ctx ends.
// report is called after each round.
func (s *Service) LoopSync(ctx context.Context, actor *store.Actor, every time.Duration, report func(ok int, failures map[string]error)) error {
	for {
		ok, failures, err := s.SyncAll(ctx, actor)
		if err != nil {
			s.log.Error("sync round", "err", err)
		} else if report != nil {
			report(ok, failures)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
