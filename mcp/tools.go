package mcp

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/handover"
	"github.com/aifactory/aifactory-mcp/store"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// pageSize is project_list's page length.
const pageSize = 50

func (s *Server) tools() []server.ServerTool {
	return []server.ServerTool{
		s.projectCreate(), s.projectList(), s.projectGet(), s.projectSync(),
		s.projectDelete(), s.credentialList(), s.handoverTool(), s.whoami(),
	}
}

func annotations(readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		ReadOnlyHint: &readOnly, DestructiveHint: &destructive, IdempotentHint: &idempotent, OpenWorldHint: &openWorld,
	})
}

func (s *Server) projectCreate() server.ServerTool {
	t := mcp.NewTool("project_create",
		mcp.WithDescription("Register a project: clone gitUrl (https) into the workspace, or register path, a directory on the server. The same URL returns the existing project. A long clone answers status cloning; poll project_get."),
		mcp.WithString("gitUrl", mcp.Description("https URL of the repository, without credentials")),
		mcp.WithString("path", mcp.Description("absolute path of a directory on the server, instead of gitUrl")),
		mcp.WithString("gitCredentialId", mcp.Description("id of a stored credential for a private repository (credential_list)")),
		mcp.WithString("branch", mcp.Description("branch to check out (default: the remote's default)")),
		mcp.WithString("name", mcp.Description("display name (default: the repository name)")),
		mcp.WithNumber("depth", mcp.Description("history depth; 0 or absent for full history")),
		mcp.WithOutputSchema[projectCreateOut](),
		annotations(false, false, true, true),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("project.create", store.ScopeProjectWrite,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			a, err := stringArgs(req, "gitUrl", "path", "gitCredentialId", "branch", "name")
			if err != nil {
				return nil, err
			}
			depth, err := optInt(req, "depth")
			if err != nil {
				return nil, err
			}
			report, done := s.progress(ctx, req)
			defer done()
			res, err := s.clone.Create(ctx, actor, clone.CreateRequest{GitURL: a["gitUrl"], Path: a["path"],
				CredentialID: a["gitCredentialId"], Branch: a["branch"], Name: a["name"], Depth: depth,
				Progress: report})
			if err != nil {
				return nil, err
			}
			return projectCreateOut{Project: toProject(res.Project), Created: res.Created}, nil
		})}
}

func (s *Server) projectList() server.ServerTool {
	t := mcp.NewTool("project_list",
		mcp.WithDescription(fmt.Sprintf("List this org's projects, %d a page.", pageSize)),
		mcp.WithString("cursor", mcp.Description("nextCursor of the previous page")),
		mcp.WithOutputSchema[projectListOut](),
		annotations(true, false, true, false),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("project.list", store.ScopeRead,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			cursor, err := optString(req, "cursor")
			if err != nil {
				return nil, err
			}
			list, err := s.db.ListProjects(ctx, actor.OrgID, cursor, pageSize+1)
			if err != nil {
				return nil, err
			}
			out := projectListOut{Projects: []Project{}}
			if len(list) > pageSize {
				list = list[:pageSize]
				out.NextCursor = list[pageSize-1].ID
			}
			for _, p := range list {
				out.Projects = append(out.Projects, toProject(p))
			}
			return out, nil
		})}
}

func (s *Server) projectGet() server.ServerTool {
	t := mcp.NewTool("project_get",
		mcp.WithDescription("Get one project by projectId, or the project containing path."),
		mcp.WithString("projectId", mcp.Description("project id")),
		mcp.WithString("path", mcp.Description("absolute path inside a project")),
		mcp.WithOutputSchema[projectGetOut](),
		annotations(true, false, true, false),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("project.get", store.ScopeRead,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			a, err := stringArgs(req, "projectId", "path")
			if err != nil {
				return nil, err
			}
			var p *store.Project
			switch {
			case (a["projectId"] == "") == (a["path"] == ""):
				return nil, store.Errorf(store.EINVALID, "pass exactly one of projectId and path")
			case a["projectId"] != "":
				p, err = s.db.GetProject(ctx, actor.OrgID, a["projectId"])
			case !filepath.IsAbs(a["path"]):
				return nil, store.Errorf(store.EINVALID, "path must be absolute")
			default:
				p, err = handover.ProjectAt(ctx, s.db, actor.OrgID, a["path"])
			}
			if err != nil {
				return nil, err
			}
			return projectGetOut{Project: toProject(p)}, nil
		})}
}

func (s *Server) projectSync() server.ServerTool {
	t := mcp.NewTool("project_sync",
		mcp.WithDescription("Fetch and fast-forward a cloned project (git pull --ff-only). Diverged history or conflicting local changes are reported, never overwritten."),
		mcp.WithString("projectId", mcp.Required(), mcp.Description("project id")),
		mcp.WithOutputSchema[projectSyncOut](),
		annotations(false, false, true, true),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("project.sync", store.ScopeProjectWrite,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			id, err := requiredString(req, "projectId")
			if err != nil {
				return nil, err
			}
			res, err := s.clone.Sync(ctx, actor, id)
			if err != nil {
				return nil, err
			}
			return projectSyncOut{Project: toProject(res.Project), PreviousHead: res.PreviousHead, Head: res.Head, Updated: res.Updated}, nil
		})}
}

func (s *Server) projectDelete() server.ServerTool {
	t := mcp.NewTool("project_delete",
		mcp.WithDescription("Unregister a project. deleteFiles also removes a clone's files; a clone with uncommitted, untracked or unpushed work is kept unless force."),
		mcp.WithString("projectId", mcp.Required(), mcp.Description("project id")),
		mcp.WithBoolean("deleteFiles", mcp.Description("also delete the clone's files")),
		mcp.WithBoolean("force", mcp.Description("delete files even if work would be lost")),
		mcp.WithOutputSchema[projectDeleteOut](),
		annotations(false, true, false, false),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("project.delete", store.ScopeProjectWrite,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			id, err := requiredString(req, "projectId")
			if err != nil {
				return nil, err
			}
			files, err := optBool(req, "deleteFiles")
			if err != nil {
				return nil, err
			}
			force, err := optBool(req, "force")
			if err != nil {
				return nil, err
			}
			res, err := s.clone.Delete(ctx, actor, clone.DeleteRequest{ProjectID: id, DeleteFiles: files, Force: force})
			if err != nil {
				return nil, err
			}
			return projectDeleteOut{ProjectID: res.ProjectID, Deleted: true, FilesDeleted: res.FilesDeleted}, nil
		})}
}

func (s *Server) credentialList() server.ServerTool {
	t := mcp.NewTool("credential_list",
		mcp.WithDescription("List this org's stored Git credentials (ids for gitCredentialId; never a token)."),
		mcp.WithOutputSchema[credentialListOut](),
		annotations(true, false, true, false),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("credential.list", store.ScopeRead,
		func(ctx context.Context, actor *store.Actor, _ mcp.CallToolRequest) (any, error) {
			creds, err := s.db.ListCredentials(ctx, actor.OrgID)
			if err != nil {
				return nil, err
			}
			out := credentialListOut{Credentials: []Credential{}}
			for _, c := range creds {
				out.Credentials = append(out.Credentials, toCredential(c))
			}
			return out, nil
		})}
}

func (s *Server) handoverTool() server.ServerTool {
	t := mcp.NewTool("handover",
		mcp.WithDescription("Resolve your working directory to a project: by path, by its Git origin URL, or by registering it (needs project:write)."),
		mcp.WithString("cwd", mcp.Required(), mcp.Description("absolute path of your working directory")),
		mcp.WithString("gitUrl", mcp.Description("https URL of the repository, if the server cannot read cwd")),
		mcp.WithString("branch", mcp.Description("branch to check out when registering")),
		mcp.WithString("gitCredentialId", mcp.Description("credential to clone with (default: the org's one credential for the host)")),
		mcp.WithOutputSchema[handoverOut](),
		annotations(false, false, true, true),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("handover", store.ScopeRead,
		func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error) {
			a, err := stringArgs(req, "cwd", "gitUrl", "branch", "gitCredentialId")
			if err != nil {
				return nil, err
			}
			report, done := s.progress(ctx, req)
			defer done()
			res, err := s.handover.Resolve(ctx, actor, handover.Request{Cwd: a["cwd"], GitURL: a["gitUrl"], Branch: a["branch"],
				CredentialID: a["gitCredentialId"], CanRegister: requireScope(actor, store.ScopeProjectWrite) == nil,
				Progress: report})
			if err != nil {
				return nil, err
			}
			return handoverOut{Project: toProject(res.Project), Matched: res.Matched}, nil
		})}
}

func (s *Server) whoami() server.ServerTool {
	t := mcp.NewTool("whoami",
		mcp.WithDescription("Show the key, org and scopes this server acts with."),
		mcp.WithOutputSchema[whoamiOut](),
		annotations(true, false, true, false),
	)
	return server.ServerTool{Tool: t, Handler: s.handle("whoami", "",
		func(ctx context.Context, actor *store.Actor, _ mcp.CallToolRequest) (any, error) {
			return whoamiOut{KeyID: actor.KeyID, KeyName: actor.KeyName, Org: orgOut{ID: actor.OrgID, Slug: actor.OrgSlug}, Scopes: actor.Scopes}, nil
		})}
}

func handoverPrompt() (mcp.Prompt, server.PromptHandlerFunc) {
	p := mcp.NewPrompt("handover",
		mcp.WithPromptDescription("Hand this working directory over to aifactory: find or register its project."),
		mcp.WithArgument("cwd", mcp.RequiredArgument(), mcp.ArgumentDescription("absolute path of the working directory")),
	)
	return p, func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		cwd := req.Params.Arguments["cwd"]
		if cwd == "" {
			cwd = "your current working directory (absolute path)"
		}
		text := fmt.Sprintf("Call the aifactory `handover` tool with cwd set to %s. If it says the server cannot read the directory, "+
			"pass gitUrl with the https URL of the repository's origin. Then tell the user which project it resolved to "+
			"(name, id, path, status) and how it matched.", cwd)
		return mcp.NewGetPromptResult("Hand over to aifactory", []mcp.PromptMessage{
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
		}), nil
	}
}
