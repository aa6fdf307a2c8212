package store

import (
	"context"
	"time"
)

// AuditEntry is one row of the audit log. It never holds a secret: URLs are
// clean and credentials appear by id.
type AuditEntry struct {
	ID           int64     `json:"id"`
	At           time.Time `json:"at"`
	OrgID        string    `json:"orgId"`
	KeyID        string    `json:"keyId"`
	Action       string    `json:"action"`
	ResourceID   string    `json:"resourceId"`
	GitURL       string    `json:"gitUrl"`
	CredentialID string    `json:"credentialId"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail"`
}

// Audit outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeError  = "error"
)

// Audit appends an entry; its time is set here.
func (db *DB) Audit(ctx context.Context, e *AuditEntry) error {
	e.At = db.Now().UTC()
	res, err := db.db.ExecContext(ctx, `INSERT INTO audit_log (at, org_id, key_id, action, resource_id, git_url, credential_id, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(e.At), e.OrgID, e.KeyID, e.Action, e.ResourceID, e.GitURL, e.CredentialID, e.Outcome, e.Detail)
	if err != nil {
		return err
	}
	e.ID, _ = res.LastInsertId()
	return nil
}

// ListAudit returns the org's newest entries first; orgID "" lists all orgs.
func (db *DB) ListAudit(ctx context.Context, orgID string, limit int) ([]*AuditEntry, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := db.db.QueryContext(ctx, `SELECT id, at, org_id, key_id, action, resource_id, git_url, credential_id, outcome, detail
		FROM audit_log WHERE (? = '' OR org_id = ?) ORDER BY id DESC LIMIT ?`, orgID, orgID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.ID, &at, &e.OrgID, &e.KeyID, &e.Action, &e.ResourceID, &e.GitURL, &e.CredentialID, &e.Outcome, &e.Detail); err != nil {
			return nil, err
		}
		e.At = parseTime(at)
		out = append(out, &e)
	}
	return out, rows.Err()
}
