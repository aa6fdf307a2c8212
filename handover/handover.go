// Package handover resolves the /handover destination: a working directory
// becomes a project of the caller's org — an existing one by path or by Git
// URL, or a new one registered through the clone path.
package handover

import (
	"context"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/store"
	git "github.com/go-git/go-git/v5"
)

// How a handover matched.
const (
	MatchedPath    = "path"
	MatchedGitURL  = "gitUrl"
	MatchedCreated = "created"
)

// Request is the handover input.
type Request struct {
	Cwd          string
	GitURL       string
	Branch       string
	CredentialID string
	// CanRegister is whether the caller holds the scope to register a new
	// project; the MCP layer decides it.
	CanRegister bool
	Progress    func(clone.Progress)
}

// Result is the handover output.
type Result struct {
	Project *store.Project
	Matched string
}

// Resolver resolves handovers against a store and the clone path.
type Resolver struct {
	DB    *store.DB
	Clone *clone.Service
}

// Resolve runs the handover steps of the contract in order.
func (r *Resolver) Resolve(ctx context.Context, actor *store.Actor, req Request) (*Result, error) {
	if req.Cwd == "" || !filepath.IsAbs(req.Cwd) {
		return nil, store.Errorf(store.EINVALID, "cwd must be the absolute path of your working directory")
	}
	cwd := filepath.Clean(req.Cwd)
	if p, err := ProjectAt(ctx, r.DB, actor.OrgID, cwd); err == nil {
		return &Result{Project: p, Matched: MatchedPath}, nil
	} else if store.ErrorCode(err) != store.ENOTFOUND {
		return nil, err
	}
	rawURL, branch := req.GitURL, req.Branch
	if rawURL == "" {
		origin, headBranch, ok := readOrigin(cwd, r.Clone.AllowsHTTP())
		if !ok {
			return nil, store.Errorf(store.EINVALID, "%s matches no project and the server cannot read a Git checkout there; pass gitUrl (the repository's https:// URL) to register it", cwd)
		}
		rawURL = origin
		if branch == "" {
			branch = headBranch
		}
	}
	u, err := r.Clone.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if p, err := r.DB.ProjectByURLKey(ctx, actor.OrgID, u.Key); err == nil && p.Status != store.StatusFailed {
		return &Result{Project: p, Matched: MatchedGitURL}, nil
	}
	if !req.CanRegister {
		return nil, store.Errorf(store.EFORBIDDEN, "%s matches no project of this org, and registering %s needs a key with the project:write scope", cwd, u.Clean)
	}
	credID := req.CredentialID
	if credID == "" && u.Scheme == "https" { // a credential never goes over plain http
		if credID, err = r.matchingCredential(ctx, actor.OrgID, u); err != nil {
			return nil, err
		}
	}
	res, err := r.Clone.Create(ctx, actor, clone.CreateRequest{GitURL: u.Clean, CredentialID: credID, Branch: branch, Progress: req.Progress})
	if err != nil {
		return nil, err
	}
	matched := MatchedCreated
	if !res.Created {
		matched = MatchedGitURL
	}
	return &Result{Project: res.Project, Matched: matched}, nil
}

// ProjectAt returns the org's project containing the absolute path dir, as
// given or, when it exists here, resolved through symlinks. Not finding one
// is an ENOTFOUND error naming dir as given.
func ProjectAt(ctx context.Context, db *store.DB, orgID, dir string) (*store.Project, error) {
	dir = filepath.Clean(dir)
	p, err := db.ProjectContaining(ctx, orgID, dir)
	if store.ErrorCode(err) != store.ENOTFOUND {
		return p, err
	}
	if real, rerr := filepath.EvalSymlinks(dir); rerr == nil && real != dir {
		if p, rerr := db.ProjectContaining(ctx, orgID, real); store.ErrorCode(rerr) != store.ENOTFOUND {
			return p, rerr
		}
	}
	return nil, err
}

func (r *Resolver) matchingCredential(ctx context.Context, orgID string, u *clone.RepoURL) (string, error) {
	creds, err := r.DB.ListCredentials(ctx, orgID)
	if err != nil {
		return "", err
	}
	var ids, names []string
	for _, c := range creds {
		if c.Host == u.HostPort {
			ids = append(ids, c.ID)
			names = append(names, c.Name)
		}
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", store.Errorf(store.EINVALID, "several credentials match %s (%s); pass gitCredentialId to pick one", u.HostPort, strings.Join(names, ", "))
}

// readOrigin reads the origin remote and checked-out branch of the checkout
// containing dir. Userinfo is stripped; SSH forms become their https URL,
// and so does plain http unless allowHTTP. A detached HEAD yields no
// branch, so the remote's default branch is used.
func readOrigin(dir string, allowHTTP bool) (origin, branch string, ok bool) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", "", false
	}
	remote, err := repo.Remote("origin")
	if err != nil || len(remote.Config().URLs) == 0 {
		return "", "", false
	}
	origin = ToHTTPS(remote.Config().URLs[0])
	if u, err := url.Parse(strings.TrimSpace(remote.Config().URLs[0])); allowHTTP && err == nil && u.Scheme == "http" {
		u.User = nil
		origin = u.String()
	}
	if head, err := repo.Head(); err == nil && head.Name().IsBranch() {
		branch = head.Name().Short()
	}
	return origin, branch, origin != ""
}

var scpLike = regexp.MustCompile(`^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):([^/].*)$`)

// ToHTTPS turns an origin URL into the https URL of the same repository,
// without userinfo: https stays https, ssh://host/path and git@host:path
// become https://host/path.
func ToHTTPS(raw string) string {
	raw = strings.TrimSpace(raw)
	if m := scpLike.FindStringSubmatch(raw); m != nil && !strings.Contains(raw, "://") {
		return "https://" + m[1] + "/" + strings.TrimPrefix(m[2], "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "ssh", "git+ssh":
		u.Host = u.Hostname() // the SSH port says nothing about https
		fallthrough
	case "https", "http":
		u.Scheme, u.User = "https", nil
		return u.String()
	}
	return ""
}
