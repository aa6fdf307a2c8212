package store

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Credential is a stored HTTPS personal access token. There is no field that
// could hold the token: it is read only through CredentialToken.
type Credential struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Host       string     `json:"host"`
	Username   string     `json:"username"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// DefaultCredentialUsername is what HTTPS PAT hosts accept as the user name.
const DefaultCredentialUsername = "oauth2"

// CanonicalHost returns host[:port] in the form credentials are bound to:
// lower-case host, IPv6 in brackets, port dropped when it is 443.
func CanonicalHost(host, port string) string {
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if port == "" || port == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// ParseCredentialHost validates and canonicalises a --host value (H or H:PORT).
func ParseCredentialHost(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := Errorf(EINVALID, "host %q is invalid; give a host name with an optional port, such as github.com or git.example.com:8443, without scheme or path", s)
	if strings.ContainsAny(s, "/@?#\\") || strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", bad
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", bad
		}
	} else if strings.Count(s, ":") == 1 { // "host:" or "host:x"
		return "", bad
	}
	if host == "" {
		return "", bad
	}
	return CanonicalHost(host, port), nil
}

// CreateCredential encrypts and stores a token for the org.
func (db *DB) CreateCredential(ctx context.Context, box *Box, orgID, name, host, username string, token Secret) (*Credential, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, Errorf(EINVALID, "a credential needs a name of 1-100 printable characters; pass --name")
	}
	host, err := ParseCredentialHost(host)
	if err != nil {
		return nil, err
	}
	if username == "" {
		username = DefaultCredentialUsername
	}
	if strings.ContainsAny(username, ":\r\n") || strings.IndexFunc(username, unicode.IsControl) >= 0 {
		return nil, Errorf(EINVALID, "the username may not contain ':' or control characters")
	}
	if err := ValidateToken(token); err != nil {
		return nil, err
	}
	if box == nil {
		return nil, Errorf(EINVALID, "no encryption key is configured; run `aifactory-mcp init` or set AIFACTORY_SECRET_KEYS")
	}
	enc, err := box.Encrypt(token)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	c := &Credential{ID: newID(), Name: name, Host: host, Username: username, CreatedAt: tx.now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO git_credentials (id, org_id, name, host, username, token, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, orgID, c.Name, c.Host, c.Username, enc, formatTime(c.CreatedAt)); err != nil {
		return nil, constraintError(err, "a credential named "+strconv.Quote(name)+" already exists in this org; pick another name or remove the old one")
	}
	return c, tx.Commit()
}

// ValidateToken refuses empty, multi-line and control-character tokens.
func ValidateToken(token Secret) error {
	t := token.Reveal()
	if t == "" {
		return Errorf(EINVALID, "the token is empty; pipe it on stdin, e.g. `printf %%s \"$TOKEN\" | aifactory-mcp credential add ... --token-stdin`")
	}
	if strings.ContainsAny(t, "\r\n") {
		return Errorf(EINVALID, "the token spans several lines; give exactly one token on one line")
	}
	if strings.IndexFunc(t, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return Errorf(EINVALID, "the token contains spaces or control characters; give exactly one token")
	}
	return nil
}

const credentialColumns = `id, name, host, username, created_at, last_used_at`

func scanCredential(row interface{ Scan(...any) error }) (*Credential, error) {
	var c Credential
	var created string
	var used sql.NullString
	if err := row.Scan(&c.ID, &c.Name, &c.Host, &c.Username, &created, &used); err != nil {
		return nil, err
	}
	c.CreatedAt, c.LastUsedAt = parseTime(created), parseTimePtr(used)
	return &c, nil
}

// ListCredentials returns the org's credentials, oldest first.
func (db *DB) ListCredentials(ctx context.Context, orgID string) ([]*Credential, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+credentialColumns+` FROM git_credentials WHERE org_id = ? ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func credentialNotFound(id string) error {
	return Errorf(ENOTFOUND, "git credential %q does not exist; call credential_list for the ids of this org's credentials, or ask an admin to store one with `aifactory-mcp credential add`", id)
}

// GetCredential returns one of the org's credentials. Another org's id reads
// exactly like an id that does not exist.
func (db *DB) GetCredential(ctx context.Context, orgID, id string) (*Credential, error) {
	c, err := scanCredential(db.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM git_credentials WHERE id = ? AND org_id = ?`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, credentialNotFound(id)
	}
	return c, err
}

// CredentialToken decrypts the token of one of the org's credentials.
func (db *DB) CredentialToken(ctx context.Context, box *Box, orgID, id string) (*Credential, Secret, error) {
	var enc string
	row := db.db.QueryRowContext(ctx, `SELECT `+credentialColumns+`, token FROM git_credentials WHERE id = ? AND org_id = ?`, id, orgID)
	var c Credential
	var created string
	var used sql.NullString
	err := row.Scan(&c.ID, &c.Name, &c.Host, &c.Username, &created, &used, &enc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Secret{}, credentialNotFound(id)
	}
	if err != nil {
		return nil, Secret{}, err
	}
	c.CreatedAt, c.LastUsedAt = parseTime(created), parseTimePtr(used)
	if box == nil {
		return nil, Secret{}, Errorf(EINVALID, "no encryption key is configured, so credential %q cannot be read; set AIFACTORY_SECRET_KEYS or restore secret.key", c.Name)
	}
	tok, ok := box.Decrypt(enc)
	if !ok {
		return nil, Secret{}, Errorf(EINVALID, "credential %q cannot be decrypted with the configured keys; restore the key it was stored with in AIFACTORY_SECRET_KEYS, or store the token again", c.Name)
	}
	return &c, tok, nil
}

// TouchCredential stamps a credential's last use.
func (db *DB) TouchCredential(ctx context.Context, orgID, id string) error {
	_, err := db.db.ExecContext(ctx, `UPDATE git_credentials SET last_used_at = ? WHERE id = ? AND org_id = ?`,
		formatTime(db.Now()), id, orgID)
	return err
}

// RemoveCredential deletes one of the org's credentials. Projects that use
// it keep working only if detach is set (they are then synced anonymously);
// otherwise a credential in use is refused, naming the projects.
func (db *DB) RemoveCredential(ctx context.Context, orgID, id string, detach bool) (*Credential, error) {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	c, err := scanCredential(tx.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM git_credentials WHERE id = ? AND org_id = ?`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, credentialNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM projects WHERE git_credential_id = ? AND org_id = ? ORDER BY name LIMIT 11`, id, orgID)
	if err != nil {
		return nil, err
	}
	var users []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		users = append(users, n)
	}
	rows.Close()
	if len(users) > 0 && !detach {
		if len(users) > 10 {
			users = append(users[:10], "…")
		}
		return nil, Errorf(ECONFLICT, "credential %q is used by projects %s; remove them first, or pass --force to detach it (they will then sync anonymously)", c.Name, strings.Join(users, ", "))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE projects SET git_credential_id = NULL WHERE git_credential_id = ? AND org_id = ?`, id, orgID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM git_credentials WHERE id = ? AND org_id = ?`, id, orgID); err != nil {
		return nil, err
	}
	return c, tx.Commit()
}

// RotateCredentialKeys re-encrypts every stored token, in every org, with the
// box's first key, in one transaction: either all move or none do.
func (db *DB) RotateCredentialKeys(ctx context.Context, box *Box) (int, error) {
	tx, err := db.BeginTx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, name, token FROM git_credentials ORDER BY id`)
	if err != nil {
		return 0, err
	}
	type item struct{ id, name, enc string }
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.id, &it.name, &it.enc); err != nil {
			rows.Close()
			return 0, err
		}
		items = append(items, it)
	}
	rows.Close()
	for _, it := range items {
		tok, ok := box.Decrypt(it.enc)
		if !ok {
			return 0, Errorf(EINVALID, "credential %q (%s) cannot be decrypted with the configured keys; add the key it was stored with to AIFACTORY_SECRET_KEYS (after the new first key) and run rotate-key again; nothing was changed", it.name, it.id)
		}
		enc, err := box.Encrypt(tok)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE git_credentials SET token = ? WHERE id = ?`, enc, it.id); err != nil {
			return 0, err
		}
	}
	return len(items), tx.Commit()
}
