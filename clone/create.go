package clone

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// CreateRequest is project_create's input: exactly one of GitURL and Path.
type CreateRequest struct {
	GitURL       string
	Path         string
	CredentialID string
	Branch       string
	Name         string
	Depth        int
	// Progress, when set, receives the clone's progress.
	Progress func(Progress)
}

// CreateResult is project_create's output.
type CreateResult struct {
	Project *store.Project
	Created bool
}

// MaxDepth bounds depth; anything larger is a full clone in practice.
const MaxDepth = 1 << 20

// flight is a clone in progress in this process. Calls for the same org and
// URL share it.
type flight struct {
	done      chan struct{}
	project   *store.Project
	result    *store.Project
	err       error
	cancel    context.CancelFunc
	mu        sync.Mutex
	detached  bool // the starting call answered "cloning" and left
	finished  bool
	reclaimed bool
}

var errRetry = errors.New("claim lost; look again")

// Create registers a project: by cloning GitURL, or by Path for a directory
// already on this server. The same org and normalised URL return the
// existing project (Created false), also when calls race.
func (s *Service) Create(ctx context.Context, actor *store.Actor, req CreateRequest) (*CreateResult, error) {
	var res *CreateResult
	var err error
	entry := store.AuditEntry{CredentialID: req.CredentialID}
	switch {
	case req.GitURL != "" && req.Path != "":
		err = invalid("pass either gitUrl or path, not both")
	case req.GitURL == "" && req.Path == "":
		err = invalid("pass gitUrl (an https:// URL to clone) or path (a directory on this server)")
	case req.Path != "":
		res, err = s.registerPath(ctx, actor, req)
	default:
		var u *RepoURL
		u, err = ParseURL(req.GitURL, s.policy.AllowHTTP)
		if err == nil {
			entry.GitURL = u.Clean
			res, err = s.createClone(ctx, actor, u, req)
		}
	}
	if res != nil {
		entry.ResourceID = res.Project.ID
	}
	s.audit(ctx, actor, "project.create", entry, err)
	return res, err
}

func (s *Service) createClone(ctx context.Context, actor *store.Actor, u *RepoURL, req CreateRequest) (*CreateResult, error) {
	if err := s.policy.CheckHost(u.Host); err != nil {
		return nil, err
	}
	if err := ValidateDisplayName(req.Name); err != nil {
		return nil, err
	}
	if err := ValidateBranch(req.Branch); err != nil {
		return nil, err
	}
	if req.Depth < 0 || req.Depth > MaxDepth {
		return nil, invalid("depth must be between 0 (full history) and %d", MaxDepth)
	}
	auth, err := s.resolveCredential(ctx, actor.OrgID, req.CredentialID, u)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 8; attempt++ {
		existing, err := s.db.ProjectByURLKey(ctx, actor.OrgID, u.Key)
		if err != nil && store.ErrorCode(err) != store.ENOTFOUND {
			return nil, err
		}
		var reclaim *store.Project
		if err == nil {
			switch existing.Status {
			case store.StatusReady:
				return &CreateResult{Project: existing}, nil
			case store.StatusCloning:
				p, err := s.awaitOther(ctx, actor.OrgID, u.Key, existing)
				if errors.Is(err, errRetry) {
					continue
				}
				if err != nil {
					return nil, err
				}
				return &CreateResult{Project: p}, nil
			case store.StatusFailed:
				reclaim = existing
			}
		}
		fl, starter, err := s.start(ctx, actor, u, req, auth, reclaim)
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := s.await(ctx, fl, starter)
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &CreateResult{Project: p, Created: starter && reclaim == nil}, nil
	}
	return nil, store.Errorf(store.ECONFLICT, "other calls kept registering this URL at the same time; call project_create again")
}

func (s *Service) resolveCredential(ctx context.Context, orgID, credID string, u *RepoURL) (*authBinding, error) {
	if credID == "" {
		return nil, nil
	}
	if s.box == nil {
		return nil, store.Errorf(store.EINVALID, "stored credentials cannot be used: no encryption key is configured on this server; ask its operator to set AIFACTORY_SECRET_KEYS or restore secret.key")
	}
	cred, tok, err := s.db.CredentialToken(ctx, s.box, orgID, credID)
	if err != nil {
		return nil, err
	}
	if cred.Host != "" && cred.Host != u.HostPort {
		return nil, store.Errorf(store.EFORBIDDEN, "credential %q is bound to host %s and is never sent to %s; pass a credential for %s (see credential_list) or ask an admin to add one", cred.Name, cred.Host, u.HostPort, u.HostPort)
	}
	if u.Scheme != "https" {
		return nil, store.Errorf(store.EFORBIDDEN, "a credential is never sent over plain http; use the repository's https:// URL")
	}
	return &authBinding{hostPort: u.HostPort, username: cred.Username, token: tok, credName: cred.Name, credID: cred.ID, orgID: orgID}, nil
}

// start joins this process's clone of the URL, or claims the project row and
// starts a clone. starter reports whether this call started it.
func (s *Service) start(ctx context.Context, actor *store.Actor, u *RepoURL, req CreateRequest, auth *authBinding, reclaim *store.Project) (*flight, bool, error) {
	key := actor.OrgID + "\x00" + u.Key
	s.mu.Lock()
	if fl := s.flights[key]; fl != nil {
		s.mu.Unlock()
		return fl, false, nil
	}
	fl := &flight{done: make(chan struct{}), reclaimed: reclaim != nil}
	s.flights[key] = fl
	s.mu.Unlock()

	p, lock, err := s.claim(ctx, actor, u, req, reclaim)
	if err != nil {
		s.mu.Lock()
		delete(s.flights, key)
		s.mu.Unlock()
		fl.err = err
		if errors.Is(err, store.ErrURLTaken) {
			fl.err = errRetry
		}
		close(fl.done)
		return nil, false, fl.err
	}
	fl.project = p
	cctx, cancel := context.WithTimeout(s.baseCtx, s.timeout)
	fl.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		s.runClone(cctx, fl, key, p, lock, u, req, auth)
	}()
	return fl, true, nil
}

// claim picks a free directory and registers the project as cloning. The
// database's unique constraints decide between racing processes.
func (s *Service) claim(ctx context.Context, actor *store.Actor, u *RepoURL, req CreateRequest, reclaim *store.Project) (*store.Project, *fileLock, error) {
	id := store.NewID()
	if reclaim != nil {
		id = reclaim.ID
	}
	tmp := s.ws.tmpDir(id)
	lock, ok, err := tryLock(lockPath(tmp))
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errRetry // another process is cloning under this id
	}
	release := func() { os.Remove(lockPath(tmp)); lock.unlock() }
	os.RemoveAll(tmp)
	name := req.Name
	if name == "" {
		name = u.Name
	}
	for i := 1; i < 10000; i++ {
		path := s.ws.candidate(u.Name, i)
		if exists(path) {
			continue
		}
		p := &store.Project{ID: id, OrgID: actor.OrgID, Name: name, Path: path, GitURL: u.Clean, URLKey: u.Key,
			GitCredentialID: req.CredentialID, Branch: req.Branch, Depth: req.Depth,
			Source: store.SourceClone, Status: store.StatusCloning, CloneTmp: tmp}
		if reclaim != nil {
			ok, err := s.db.ReclaimFailed(ctx, p)
			if errors.Is(err, store.ErrPathTaken) {
				continue
			}
			if err == nil && !ok {
				err = errRetry
			}
			if err != nil {
				release()
				return nil, nil, err
			}
			p.CreatedAt = reclaim.CreatedAt
			return p, lock, nil
		}
		err := s.db.InsertProject(ctx, p)
		if errors.Is(err, store.ErrPathTaken) {
			continue
		}
		if err != nil {
			release()
			return nil, nil, err
		}
		return p, lock, nil
	}
	release()
	return nil, nil, store.Errorf(store.ECONFLICT, "no free directory name for %s in the workspace root", u.Name)
}

// runClone runs one clone to its end: into the temporary directory, renamed
// into place on success, removed on failure.
func (s *Service) runClone(ctx context.Context, fl *flight, key string, p *store.Project, lock *fileLock, u *RepoURL, req CreateRequest, auth *authBinding) {
	start := time.Now()
	head, branch, err := s.cloneInto(ctx, p.CloneTmp, u, req, auth)
	if err == nil {
		if err = renameNoReplace(p.CloneTmp, p.Path); errors.Is(err, os.ErrExist) {
			err = store.Errorf(store.ECONFLICT, "the directory %s appeared while the clone ran; call project_create again", p.Path)
		}
	}
	if err == nil {
		err = s.db.FinishClone(context.WithoutCancel(ctx), p.ID, head, branch)
		if err != nil {
			os.RemoveAll(p.Path)
		}
	}
	if auth != nil && auth.used.Load() {
		_ = s.db.TouchCredential(context.WithoutCancel(ctx), auth.orgID, auth.credID)
	}
	var result *store.Project
	if err != nil {
		err = s.classify(ctx, opClone, err, u, auth)
		os.RemoveAll(p.CloneTmp)
		fl.mu.Lock()
		detached := fl.detached
		fl.finished = true
		fl.mu.Unlock()
		bg := context.WithoutCancel(ctx)
		if detached {
			_, _ = s.db.FailClone(bg, p.ID, store.ErrorMessage(err))
		} else {
			_ = s.db.AbandonClone(bg, p.ID, store.ErrorMessage(err), fl.reclaimed)
		}
		s.log.Warn("clone failed", "project", p.ID, "gitUrl", u.Clean, "err", store.ErrorMessage(err), "elapsed", time.Since(start).Round(time.Millisecond))
	} else {
		fl.mu.Lock()
		fl.finished = true
		fl.mu.Unlock()
		result, _ = s.db.GetProject(context.WithoutCancel(ctx), p.OrgID, p.ID)
		s.log.Info("cloned", "project", p.ID, "gitUrl", u.Clean, "head", head, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	os.Remove(lockPath(p.CloneTmp))
	lock.unlock()
	s.mu.Lock()
	delete(s.flights, key)
	s.mu.Unlock()
	fl.result, fl.err = result, err
	close(fl.done)
}

// await waits for a clone in this process: until it ends, the wait budget
// runs out (the project is returned as cloning and the clone goes on), or
// the call is cancelled (the starter's cancellation stops the clone).
func (s *Service) await(ctx context.Context, fl *flight, starter bool) (*store.Project, error) {
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case <-fl.done:
		return fl.result, fl.err
	case <-timer.C:
		fl.mu.Lock()
		finished := fl.finished
		if !finished && starter {
			fl.detached = true
		}
		fl.mu.Unlock()
		if finished {
			<-fl.done
			return fl.result, fl.err
		}
		p := *fl.project
		return &p, nil
	case <-ctx.Done():
		if starter {
			fl.cancel()
			<-fl.done
		}
		return nil, store.Errorf(store.EINVALID, "the call was cancelled; the clone was stopped and nothing was kept")
	}
}

// awaitOther waits for a clone of the URL that another call started: in this
// process through its flight, in another process by watching the row.
func (s *Service) awaitOther(ctx context.Context, orgID, key string, p *store.Project) (*store.Project, error) {
	s.mu.Lock()
	fl := s.flights[orgID+"\x00"+key]
	s.mu.Unlock()
	if fl != nil {
		return s.await(ctx, fl, false)
	}
	deadline := time.NewTimer(s.wait)
	defer deadline.Stop()
	tick := time.NewTicker(s.pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, store.Errorf(store.EINVALID, "the call was cancelled")
		case <-deadline.C:
			return p, nil
		case <-tick.C:
		}
		cur, err := s.db.GetProject(ctx, orgID, p.ID)
		if store.ErrorCode(err) == store.ENOTFOUND {
			return nil, errRetry // its clone failed while its caller waited; try ourselves
		}
		if err != nil {
			return nil, err
		}
		switch cur.Status {
		case store.StatusReady:
			return cur, nil
		case store.StatusFailed:
			return nil, store.Errorf(store.EREMOTE, "%s", cur.Error)
		}
	}
}

// cloneInto clones into dir with the configured engine — the git CLI
// through the relay, or go-git — both over the guarded transport with the
// credential only on the HTTP request for the bound host.
func (s *Service) cloneInto(ctx context.Context, dir string, u *RepoURL, req CreateRequest, auth *authBinding) (head, branch string, err error) {
	pw := newProgressWriter(req.Progress)
	pw.emit(Progress{Phase: PhaseConnecting, Percent: -1, Message: "connecting to " + u.HostPort})
	gitPath, err := s.gitEngine()
	if err != nil {
		return "", "", err
	}
	var repo *git.Repository
	if gitPath != "" {
		repo, err = s.cloneWithGit(ctx, gitPath, dir, u, req, auth, pw)
	} else {
		opts := &git.CloneOptions{URL: u.Clean, Depth: req.Depth, SingleBranch: true, Progress: pw}
		if req.Branch != "" {
			opts.ReferenceName = plumbing.NewBranchReferenceName(req.Branch)
		}
		repo, err = cloneWithGoGit(s.netContext(ctx, auth), dir, opts)
	}
	if err != nil {
		return "", "", err
	}
	ref, err := repo.Head()
	if err != nil {
		return "", "", err
	}
	if ref.Name().IsBranch() {
		branch = ref.Name().Short()
	}
	if err := checkConfigClean(filepath.Join(dir, ".git", "config"), auth); err != nil {
		return "", "", err
	}
	pw.emit(Progress{Phase: PhaseDone, Percent: 100, Message: "cloned"})
	return ref.Hash().String(), branch, nil
}

// checkConfigClean is a second line of defence: the clone's .git/config must
// not hold the token (the remote URL written there is the clean one).
func checkConfigClean(path string, auth *authBinding) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if auth != nil && auth.token.Reveal() != "" && bytes.Contains(b, []byte(auth.token.Reveal())) {
		return errors.New("refusing a clone whose .git/config holds the credential")
	}
	return nil
}

// registerPath registers a directory already on this server.
func (s *Service) registerPath(ctx context.Context, actor *store.Actor, req CreateRequest) (*CreateResult, error) {
	if req.CredentialID != "" || req.Branch != "" || req.Depth != 0 {
		return nil, invalid("gitCredentialId, branch and depth apply only to gitUrl; pass path alone")
	}
	if err := ValidateDisplayName(req.Name); err != nil {
		return nil, err
	}
	dir, err := ResolveDir(req.Path)
	if err != nil {
		return nil, err
	}
	if existing, err := s.db.ProjectContaining(ctx, actor.OrgID, dir); err == nil && existing.Path == dir {
		return &CreateResult{Project: existing}, nil
	}
	name := req.Name
	if name == "" {
		name = filepath.Base(dir)
	}
	p := &store.Project{OrgID: actor.OrgID, Name: name, Path: dir, Source: store.SourcePath, Status: store.StatusReady}
	if repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true}); err == nil {
		if ref, err := repo.Head(); err == nil {
			p.Head = ref.Hash().String()
			if ref.Name().IsBranch() {
				p.Branch = ref.Name().Short()
			}
		}
	}
	if err := s.db.InsertProject(ctx, p); err != nil {
		if errors.Is(err, store.ErrPathTaken) {
			return nil, store.Errorf(store.ECONFLICT, "%s is already registered as a project; call project_get with path to see it", dir)
		}
		return nil, err
	}
	return &CreateResult{Project: p, Created: true}, nil
}

// ResolveDir returns the clean, absolute, symlink-resolved form of an
// existing directory.
func ResolveDir(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", invalid("path must be absolute; pass the full path of the directory")
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		return "", store.Errorf(store.ENOTFOUND, "directory %s does not exist on this server; to work on a repository that is not on the server's disk, pass gitUrl instead", truncate(path, 200))
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		return "", invalid("%s is not a directory", truncate(path, 200))
	}
	return real, nil
}
