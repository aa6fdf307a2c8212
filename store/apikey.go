package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Key describes a minted acw_ key. The key itself is never stored or shown
// again after minting; Prefix is enough to recognise it.
type Key struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"orgId"`
	OrgSlug    string     `json:"org"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// AllScopes reports whether the key carries the "*" scope.
func (k *Key) AllScopes() bool { return hasScope(k.Scopes, ScopeAll) }

// Actor is who performs an operation: a verified key, or the local admin.
// Every store query on projects and credentials takes its OrgID.
type Actor struct {
	OrgID   string
	OrgSlug string
	KeyID   string // "cli" for a local admin command
	KeyName string
	Scopes  []string
	Via     string // "mcp" or "cli": the prefix of audit actions
}

// CLIKeyID is the key id recorded in the audit log for local admin commands.
const CLIKeyID = "cli"

// HasScope reports whether the actor may act with scope.
func (a *Actor) HasScope(scope string) bool { return hasScope(a.Scopes, scope) }

func hasScope(scopes []string, scope string) bool {
	for _, s := range scopes {
		if s == scope || s == ScopeAll {
			return true
		}
	}
	return false
}

// CreateKey mints a key for the org. It returns the plaintext key, which
// exists nowhere else: only its hash is stored.
func (db *DB) CreateKey(ctx context.Context, orgSlug, name string, scopes []string, expiresAt *time.Time) (Secret, *Key, error) {
	scopes, err := ValidateScopes(scopes)
	if err != nil {
		return Secret{}, nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return Secret{}, nil, Errorf(EINVALID, "a key needs a name; pass --name")
	}
	plain, err := GenerateKey()
	if err != nil {
		return Secret{}, nil, err
	}
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return Secret{}, nil, err
	}
	defer tx.Rollback()
	org, err := orgBySlugTx(ctx, tx, orgSlug)
	if err != nil {
		return Secret{}, nil, err
	}
	if expiresAt != nil && !expiresAt.After(tx.now) {
		return Secret{}, nil, Errorf(EINVALID, "the expiry must be in the future")
	}
	k := &Key{
		ID: newID(), OrgID: org.ID, OrgSlug: org.Slug, Name: name,
		Prefix: plain[:keyDisplayLen], Scopes: scopes, CreatedAt: tx.now, ExpiresAt: expiresAt,
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, scopes, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.OrgID, k.Name, k.Prefix, hashKey(plain), strings.Join(scopes, " "), formatTime(k.CreatedAt), formatTimePtr(expiresAt)); err != nil {
		return Secret{}, nil, err
	}
	return NewSecret(plain), k, tx.Commit()
}

func orgBySlugTx(ctx context.Context, tx *Tx, slug string) (*Org, error) {
	var o Org
	var created string
	err := tx.QueryRowContext(ctx, `SELECT id, slug, name, created_at FROM orgs WHERE slug = ?`, slug).
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

const keyColumns = `k.id, k.org_id, o.slug, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.revoked_at, k.last_used_at`

func scanKey(row interface{ Scan(...any) error }) (*Key, error) {
	var k Key
	var scopes, created string
	var expires, revoked, used sql.NullString
	if err := row.Scan(&k.ID, &k.OrgID, &k.OrgSlug, &k.Name, &k.Prefix, &scopes, &created, &expires, &revoked, &used); err != nil {
		return nil, err
	}
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt = parseTime(created)
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = parseTimePtr(expires), parseTimePtr(revoked), parseTimePtr(used)
	return &k, nil
}

// ListKeys returns the org's keys, oldest first.
func (db *DB) ListKeys(ctx context.Context, orgSlug string) ([]*Key, error) {
	org, err := db.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys k JOIN orgs o ON o.id = k.org_id
		WHERE k.org_id = ? ORDER BY k.id`, org.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey revokes a key of the org at once.
func (db *DB) RevokeKey(ctx context.Context, orgSlug, keyID string) (*Key, error) {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	org, err := orgBySlugTx(ctx, tx, orgSlug)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND org_id = ?`,
		formatTime(tx.now), keyID, org.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, Errorf(ENOTFOUND, "key %s does not exist in org %s; see `aifactory-mcp key list --org %s`", keyID, orgSlug, orgSlug)
	}
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.id = ?`, keyID))
	if err != nil {
		return nil, err
	}
	return k, tx.Commit()
}

// lastUsedResolution bounds how often a key's last-use time is written:
// agents call thousands of times, and a write per call would serialise them.
const lastUsedResolution = time.Minute

const mintHint = "mint a new one with `aifactory-mcp key create --org ORG --name NAME --scope mcp:read --scope project:write` and put it in AIFACTORY_MCP_KEY or ~/.aifactory/.mcp-key"

// Authenticate verifies a plaintext key and returns its actor. It is called
// on every tool call, so revocation and expiry take effect at once.
func (db *DB) Authenticate(ctx context.Context, plain string) (*Actor, error) {
	if plain == "" {
		return nil, Errorf(EUNAUTHORIZED, "no MCP key is configured; %s", mintHint)
	}
	if err := ParseKey(plain); err != nil {
		return nil, err
	}
	k, err := scanKey(db.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.hash = ?`, hashKey(plain)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(EUNAUTHORIZED, "the MCP key is not known to this server (was it minted against another database?); %s", mintHint)
	}
	if err != nil {
		return nil, err
	}
	now := db.Now().UTC()
	if k.RevokedAt != nil {
		return nil, Errorf(EUNAUTHORIZED, "the MCP key %s… was revoked; %s", k.Prefix, mintHint)
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, Errorf(EUNAUTHORIZED, "the MCP key %s… expired at %s; %s", k.Prefix, k.ExpiresAt.Format(time.RFC3339), mintHint)
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUsedResolution {
		if _, err := db.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, formatTime(now), k.ID); err != nil {
			return nil, err
		}
	}
	return &Actor{OrgID: k.OrgID, OrgSlug: k.OrgSlug, KeyID: k.ID, KeyName: k.Name, Scopes: k.Scopes, Via: "mcp"}, nil
}

// AdminActor returns the actor for a local admin command on the org.
func (db *DB) AdminActor(ctx context.Context, orgSlug string) (*Actor, error) {
	org, err := db.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return nil, err
	}
	return &Actor{OrgID: org.ID, OrgSlug: org.Slug, KeyID: CLIKeyID, KeyName: "local admin", Scopes: []string{ScopeAll}, Via: "cli"}, nil
}
