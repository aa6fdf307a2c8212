package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"time"
)

// Org is an organisation: the unit of isolation for keys, credentials and
// projects.
type Org struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// DefaultOrgSlug is the org that init creates.
const DefaultOrgSlug = "default"

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CreateOrg creates an org. The slug is lower-case letters, digits and dashes.
func (db *DB) CreateOrg(ctx context.Context, slug, name string) (*Org, error) {
	if !slugRE.MatchString(slug) {
		return nil, Errorf(EINVALID, "org slug %q is invalid; use 1-63 lower-case letters, digits and dashes, starting with a letter or digit", slug)
	}
	if name == "" {
		name = slug
	}
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	o := &Org{ID: newID(), Slug: slug, Name: name, CreatedAt: tx.now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, slug, name, created_at) VALUES (?, ?, ?, ?)`,
		o.ID, o.Slug, o.Name, formatTime(o.CreatedAt)); err != nil {
		return nil, constraintError(err, "org "+slug+" already exists; pick another slug")
	}
	return o, tx.Commit()
}

// EnsureOrg returns the org with slug, creating it if needed.
func (db *DB) EnsureOrg(ctx context.Context, slug, name string) (*Org, bool, error) {
	o, err := db.OrgBySlug(ctx, slug)
	if err == nil {
		return o, false, nil
	}
	if ErrorCode(err) != ENOTFOUND {
		return nil, false, err
	}
	o, err = db.CreateOrg(ctx, slug, name)
	if ErrorCode(err) == ECONFLICT { // created by a concurrent init
		o, err = db.OrgBySlug(ctx, slug)
		return o, false, err
	}
	return o, err == nil, err
}

// OrgBySlug returns the org with slug.
func (db *DB) OrgBySlug(ctx context.Context, slug string) (*Org, error) {
	var o Org
	var created string
	err := db.db.QueryRowContext(ctx, `SELECT id, slug, name, created_at FROM orgs WHERE slug = ?`, slug).
		Scan(&o.ID, &o.Slug, &o.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENOTFOUND, "org %q does not exist; create it with `aifactory-mcp org create %s`", slug, slug)
	}
	if err != nil {
		return nil, err
	}
	o.CreatedAt = parseTime(created)
	return &o, nil
}

// ListOrgs returns every org, oldest first.
func (db *DB) ListOrgs(ctx context.Context) ([]*Org, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, slug, name, created_at FROM orgs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Org
	for rows.Next() {
		var o Org
		var created string
		if err := rows.Scan(&o.ID, &o.Slug, &o.Name, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = parseTime(created)
		out = append(out, &o)
	}
	return out, rows.Err()
}
