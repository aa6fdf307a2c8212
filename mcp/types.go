package mcp

import (
	"time"

	"github.com/aifactory/aifactory-mcp/store"
)

// Project is the tool-facing project.
type Project struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Path            string  `json:"path"`
	GitURL          string  `json:"gitUrl"`
	GitCredentialID string  `json:"gitCredentialId"`
	Branch          string  `json:"branch"`
	Head            string  `json:"head"`
	Source          string  `json:"source" jsonschema:"clone or path"`
	Status          string  `json:"status" jsonschema:"ready, cloning or failed"`
	Error           string  `json:"error"`
	CreatedAt       string  `json:"createdAt"`
	LastSyncedAt    *string `json:"lastSyncedAt"`
	LastSyncError   string  `json:"lastSyncError"`
}

// Credential is the tool-facing credential: there is no field for a token.
type Credential struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Host       string  `json:"host"`
	Username   string  `json:"username"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

type projectCreateOut struct {
	Project Project `json:"project"`
	Created bool    `json:"created"`
}

type projectGetOut struct {
	Project Project `json:"project"`
}

type projectListOut struct {
	Projects   []Project `json:"projects"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

type projectSyncOut struct {
	Project      Project `json:"project"`
	PreviousHead string  `json:"previousHead"`
	Head         string  `json:"head"`
	Updated      bool    `json:"updated"`
}

type projectDeleteOut struct {
	ProjectID    string `json:"projectId"`
	Deleted      bool   `json:"deleted"`
	FilesDeleted bool   `json:"filesDeleted"`
}

type credentialListOut struct {
	Credentials []Credential `json:"credentials"`
}

type handoverOut struct {
	Project Project `json:"project"`
	Matched string  `json:"matched" jsonschema:"path, gitUrl or created"`
}

type orgOut struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

type whoamiOut struct {
	KeyID   string   `json:"keyId"`
	KeyName string   `json:"keyName"`
	Org     orgOut   `json:"org"`
	Scopes  []string `json:"scopes"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rfc3339Ptr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func toProject(p *store.Project) Project {
	return Project{ID: p.ID, Name: p.Name, Path: p.Path, GitURL: p.GitURL, GitCredentialID: p.GitCredentialID,
		Branch: p.Branch, Head: p.Head, Source: p.Source, Status: p.Status, Error: p.Error,
		CreatedAt: rfc3339(p.CreatedAt), LastSyncedAt: rfc3339Ptr(p.LastSyncedAt), LastSyncError: p.LastSyncError}
}

func toCredential(c *store.Credential) Credential {
	return Credential{ID: c.ID, Name: c.Name, Host: c.Host, Username: c.Username,
		CreatedAt: rfc3339(c.CreatedAt), LastUsedAt: rfc3339Ptr(c.LastUsedAt)}
}
