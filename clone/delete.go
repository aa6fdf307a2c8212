package clone

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aifactory/aifactory-mcp/store"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DeleteRequest is project_delete's input.
type DeleteRequest struct {
	ProjectID   string
	DeleteFiles bool
	Force       bool
}

// DeleteResult is project_delete's output.
type DeleteResult struct {
	ProjectID    string
	FilesDeleted bool
}

// Delete removes a registration and, when asked, a clone's files inside the
// root. A clone holding work that is not on its remote is kept unless
// Force; a refused call changes nothing.
func (s *Service) Delete(ctx context.Context, actor *store.Actor, req DeleteRequest) (*DeleteResult, error) {
	p, err := s.db.GetProject(ctx, actor.OrgID, req.ProjectID)
	var res *DeleteResult
	if err == nil {
		res, err = s.deleteProject(ctx, actor, p, req)
	}
	entry := store.AuditEntry{ResourceID: req.ProjectID}
	if p != nil {
		entry.GitURL, entry.CredentialID = p.GitURL, p.GitCredentialID
	}
	if res != nil && res.FilesDeleted {
		entry.Detail = "files deleted"
	}
	s.audit(ctx, actor, "project.delete", entry, err)
	return res, err
}

func (s *Service) deleteProject(ctx context.Context, actor *store.Actor, p *store.Project, req DeleteRequest) (*DeleteResult, error) {
	if p.Status == store.StatusCloning {
		return nil, store.Errorf(store.ECONFLICT, "project %s is still cloning; wait until project_get shows ready or failed, then delete it", p.Name)
	}
	if req.DeleteFiles && p.Source == store.SourcePath {
		return nil, invalid("project %s was registered by path: its directory belongs to its owner and is never deleted; call again without deleteFiles to remove only the registration", p.Name)
	}
	if !req.DeleteFiles || !exists(p.Path) {
		if err := s.db.DeleteProject(ctx, actor.OrgID, p.ID); err != nil {
			return nil, err
		}
		return &DeleteResult{ProjectID: p.ID}, nil
	}
	if !s.ws.Contains(p.Path) {
		return nil, store.Errorf(store.EFORBIDDEN, "the files of project %s are outside the workspace root and are never deleted; call again without deleteFiles", p.Name)
	}
	// Not under a running sync (of any process): it would go on writing
	// into a tree moved away, and recreate parts of it at the path.
	unlock, err := s.lockProject(ctx, p, "project_delete")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !req.Force {
		if lost, err := unsavedWork(p.Path); err != nil {
			return nil, store.Errorf(store.ECONFLICT, "cannot tell whether project %s holds unsaved work (%s); pass force: true to delete it anyway", p.Name, truncate(err.Error(), 120))
		} else if lost != "" {
			return nil, store.Errorf(store.ECONFLICT, "project %s has work that would be lost: %s; push or commit it, or pass force: true to delete anyway — nothing was changed", p.Name, lost)
		}
	}
	// Move the tree out of the way first, so a failure to unregister can be
	// undone and a half-deleted clone never sits at the project's path.
	trash := s.ws.tmpDir("delete-" + p.ID)
	os.RemoveAll(trash)
	if err := os.Rename(p.Path, trash); err != nil {
		return nil, fmt.Errorf("move clone aside: %w", err)
	}
	if err := s.db.DeleteProject(ctx, actor.OrgID, p.ID); err != nil {
		_ = os.Rename(trash, p.Path)
		return nil, err
	}
	if err := os.RemoveAll(trash); err != nil {
		s.log.Warn("remove deleted clone", "path", trash, "err", err)
	}
	return &DeleteResult{ProjectID: p.ID, FilesDeleted: true}, nil
}

// unsavedWork describes what deleting the clone at dir would lose:
// uncommitted changes, untracked files, and commits on local branches that
// no remote-tracking branch contains. "" means nothing.
func unsavedWork(dir string) (string, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return "", err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	status, err := wt.Status()
	if err != nil {
		return "", err
	}
	var changed, untracked []string
	for name, fs := range status {
		switch {
		case fs.Worktree == git.Untracked:
			untracked = append(untracked, name)
		case fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified:
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	sort.Strings(untracked)
	unpushed, err := unpushedCommits(repo)
	if err != nil {
		return "", err
	}
	var parts []string
	if len(changed) > 0 {
		parts = append(parts, fmt.Sprintf("%d uncommitted change(s) (%s)", len(changed), listSome(changed, 5)))
	}
	if len(untracked) > 0 {
		parts = append(parts, fmt.Sprintf("%d untracked file(s) (%s)", len(untracked), listSome(untracked, 5)))
	}
	parts = append(parts, unpushed...)
	return strings.Join(parts, "; "), nil
}

// unpushedCommits lists, per local branch, the commits that no
// remote-tracking ref reaches.
func unpushedCommits(repo *git.Repository) ([]string, error) {
	refs, err := repo.References()
	if err != nil {
		return nil, err
	}
	var remotes, locals []*plumbing.Reference
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference {
			return nil
		}
		switch {
		case r.Name().IsRemote():
			remotes = append(remotes, r)
		case r.Name().IsBranch():
			locals = append(locals, r)
		}
		return nil
	})
	pushed := map[plumbing.Hash]bool{}
	for _, r := range remotes {
		walk(repo, r.Hash(), func(h plumbing.Hash) bool {
			if pushed[h] {
				return false
			}
			pushed[h] = true
			return true
		})
	}
	var out []string
	for _, l := range locals {
		n := 0
		seen := map[plumbing.Hash]bool{}
		walk(repo, l.Hash(), func(h plumbing.Hash) bool {
			if pushed[h] || seen[h] {
				return false
			}
			seen[h] = true
			n++
			return true
		})
		if n > 0 {
			out = append(out, fmt.Sprintf("%d commit(s) on %s not on any remote branch", n, l.Name().Short()))
		}
	}
	return out, nil
}

// walk visits commits from h through parents while visit returns true.
// Missing parents (a shallow clone's boundary) end the walk quietly.
func walk(repo *git.Repository, h plumbing.Hash, visit func(plumbing.Hash) bool) {
	stack := []plumbing.Hash{h}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !visit(h) {
			continue
		}
		c, err := object.GetCommit(repo.Storer, h)
		if err != nil {
			continue
		}
		stack = append(stack, c.ParentHashes...)
	}
}
