package store

import (
	"context"
	"database/sql"
	"errors"
	"github.com/google/uuid"
	"path/filepath"
	"strings"
	"time"
)

// Project sources and statuses.
const (
	SourceClone = "clone"
	SourcePath  = "path"

	StatusReady   = "ready"
	StatusCloning = "cloning"
	StatusFailed  = "failed"
)

// Project is a registered working tree.
type Project struct {
	ID              string     `json:"id"`
	OrgID           string     `json:"-"`
	Name            string     `json:"name"`
	Path            string     `json:"path"`
	GitURL          string     `json:"gitUrl"`
	URLKey          string     `json:"-"`
	GitCredentialID string     `json:"gitCredentialId"`
	Branch          string     `json:"branch"`
	Depth           int        `json:"-"`
	Head            string     `json:"head"`
	Source          string     `json:"source"`
	Status          string     `json:"status"`
	Error           string     `json:"error"`
	CloneTmp        string     `json:"-"`
	CreatedAt       time.Time  `json:"createdAt"`
	LastSyncedAt    *time.Time `json:"lastSyncedAt"`
	LastSyncError   string     `json:"lastSyncError"`
}

var (
	// ErrPathTaken is returned when another project already has the path.
	ErrPathTaken = Errorf(ECONFLICT, "another project is already registered at this path")
	// ErrURLTaken is returned when the org already has a project for the URL.
	ErrURLTaken = Errorf(ECONFLICT, "this org already has a project for this Git URL")
)

const projectColumns = `id, org_id, name, path, git_url, url_key, git_credential_id, branch, depth, head, source, status, error,
	clone_tmp, created_at, last_synced_at, last_sync_error`

func scanProject(row interface{ Scan(...any) error }) (*Project, error) {
	var p Project
	var urlKey, credID, synced sql.NullString
	var created string
	if err := row.Scan(&p.ID, &p.OrgID, &p.Name, &p.Path, &p.GitURL, &urlKey, &credID, &p.Branch, &p.Depth, &p.Head,
		&p.Source, &p.Status, &p.Error, &p.CloneTmp, &created, &synced, &p.LastSyncError); err != nil {
		return nil, err
	}
	p.URLKey, p.GitCredentialID = urlKey.String, credID.String
	p.CreatedAt, p.LastSyncedAt = parseTime(created), parseTimePtr(synced)
	return &p, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func projectNotFound(id string) error {
	return Errorf(ENOTFOUND, "project %q does not exist; call project_list for this org's project ids", id)
}

// InsertProject registers p (its ID and CreatedAt are set here). A clone
// registers itself with status cloning: the row is the claim that racing
// callers, in this process or another, agree on. It returns ErrURLTaken or
// ErrPathTaken when a unique constraint decides against it.
func (db *DB) InsertProject(ctx context.Context, p *Project) error {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if p.ID == "" {
		p.ID = newID()
	}
	p.CreatedAt = tx.now
	_, err = tx.ExecContext(ctx, `INSERT INTO projects (id, org_id, name, path, git_url, url_key, git_credential_id, branch, depth, head,
		source, status, error, clone_tmp, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.OrgID, p.Name, p.Path, p.GitURL, nullString(p.URLKey), nullString(p.GitCredentialID), p.Branch, p.Depth, p.Head,
		p.Source, p.Status, p.Error, p.CloneTmp, formatTime(p.CreatedAt))
	switch {
	case isUniqueViolation(err, "url_key"):
		return ErrURLTaken
	case isUniqueViolation(err, "path"):
		return ErrPathTaken
	case err != nil:
		return err
	}
	return tx.Commit()
}

// ReclaimFailed turns the org's failed project id back into a clone in
// progress, with a new path, temporary directory and options. It returns
// false if the project is no longer failed (another caller reclaimed it).
func (db *DB) ReclaimFailed(ctx context.Context, p *Project) (bool, error) {
	res, err := db.db.ExecContext(ctx, `UPDATE projects SET status = 'cloning', error = '', path = ?, clone_tmp = ?, name = ?,
		git_credential_id = ?, branch = ?, depth = ?, head = '' WHERE id = ? AND org_id = ? AND status = 'failed'`,
		p.Path, p.CloneTmp, p.Name, nullString(p.GitCredentialID), p.Branch, p.Depth, p.ID, p.OrgID)
	if isUniqueViolation(err, "path") {
		return false, ErrPathTaken
	}
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetProject returns one of the org's projects. Another org's id reads
// exactly like an id that does not exist.
func (db *DB) GetProject(ctx context.Context, orgID, id string) (*Project, error) {
	p, err := scanProject(db.db.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ? AND org_id = ?`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, projectNotFound(id)
	}
	return p, err
}

// ProjectByURLKey returns the org's project for a normalised Git URL.
func (db *DB) ProjectByURLKey(ctx context.Context, orgID, urlKey string) (*Project, error) {
	p, err := scanProject(db.db.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = ? AND url_key = ?`, orgID, urlKey))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENOTFOUND, "no project of this org has that Git URL")
	}
	return p, err
}

// ProjectContaining returns the org's project whose path is dir or the
// nearest ancestor of dir; dir must be clean and absolute. It looks up each
// ancestor on the path index, so the cost grows with the depth of dir, not
// with the number of projects.
func (db *DB) ProjectContaining(ctx context.Context, orgID, dir string) (*Project, error) {
	var candidates []any
	for d := dir; ; d = filepath.Dir(d) {
		candidates = append(candidates, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	// +org_id keeps the planner off the (org_id, id) index, which would scan
	// every project of the org: the unique path index finds each candidate.
	q := `SELECT ` + projectColumns + ` FROM projects WHERE +org_id = ? AND path IN (?` + strings.Repeat(", ?", len(candidates)-1) +
		`) ORDER BY length(path) DESC LIMIT 1`
	p, err := scanProject(db.db.QueryRowContext(ctx, q, append([]any{orgID}, candidates...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENOTFOUND, "no project of this org contains %s", dir)
	}
	return p, err
}

// ListProjects returns up to limit of the org's projects with ids after
// `after`, in creation order (ids are time-ordered UUIDv7).
func (db *DB) ListProjects(ctx context.Context, orgID, after string, limit int) ([]*Project, error) {
	if _, err := uuid.Parse(after); after != "" && err != nil {
		return nil, Errorf(EINVALID, "cursor is not a nextCursor from project_list; omit it to list from the first page")
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`,
		orgID, after, limit)
	if err != nil {
		return nil, err
	}
	return collectProjects(rows)
}

func collectProjects(rows *sql.Rows) ([]*Project, error) {
	defer rows.Close()
	out := []*Project{}
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ClonedProjects returns every ready clone in every org (for the sync loop).
func (db *DB) ClonedProjects(ctx context.Context) ([]*Project, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE source = 'clone' AND status = 'ready' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collectProjects(rows)
}

// CloningProjects returns every project whose status is cloning, in any org.
func (db *DB) CloningProjects(ctx context.Context) ([]*Project, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE status = 'cloning' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collectProjects(rows)
}

// FinishClone marks a cloning project ready with its head.
func (db *DB) FinishClone(ctx context.Context, id, head, branch string) error {
	_, err := db.db.ExecContext(ctx, `UPDATE projects SET status = 'ready', head = ?, branch = ?, error = '', clone_tmp = '', last_synced_at = ?
		WHERE id = ? AND status = 'cloning'`, head, branch, formatTime(db.Now()), id)
	return err
}

// FailClone marks a cloning project failed. It reports whether it did: a
// project that is no longer cloning is left alone.
func (db *DB) FailClone(ctx context.Context, id, msg string) (bool, error) {
	res, err := db.db.ExecContext(ctx, `UPDATE projects SET status = 'failed', error = ?, clone_tmp = '' WHERE id = ? AND status = 'cloning'`, msg, id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AbandonClone deletes the row of a clone that failed while its caller was
// still waiting, so a failed call leaves nothing behind. A reclaimed failed
// project goes back to failed instead of disappearing.
func (db *DB) AbandonClone(ctx context.Context, id, msg string, reclaimed bool) error {
	if reclaimed {
		_, err := db.FailClone(ctx, id, msg)
		return err
	}
	_, err := db.db.ExecContext(ctx, `DELETE FROM projects WHERE id = ? AND status = 'cloning'`, id)
	return err
}

// RecordSync stores the outcome of a sync: the new head on success, the
// error otherwise (the head is then left as it was).
func (db *DB) RecordSync(ctx context.Context, orgID, id, head, syncErr string) (*Project, error) {
	var err error
	if syncErr == "" {
		_, err = db.db.ExecContext(ctx, `UPDATE projects SET head = ?, last_synced_at = ?, last_sync_error = '' WHERE id = ? AND org_id = ?`,
			head, formatTime(db.Now()), id, orgID)
	} else {
		_, err = db.db.ExecContext(ctx, `UPDATE projects SET last_sync_error = ? WHERE id = ? AND org_id = ?`, syncErr, id, orgID)
	}
	if err != nil {
		return nil, err
	}
	return db.GetProject(ctx, orgID, id)
}

// DeleteProject removes one of the org's project registrations.
func (db *DB) DeleteProject(ctx context.Context, orgID, id string) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM projects WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return projectNotFound(id)
	}
	return nil
}
