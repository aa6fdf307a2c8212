// Package store is the SQLite-backed persistence of aifactory-mcp: orgs,
// scoped API keys, encrypted Git credentials, projects and the audit log.
// It imports nothing else of the project.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is an open store. Its services (Orgs, Keys, Credentials, Projects,
// Audit) share the connection pool.
type DB struct {
	db   *sql.DB
	path string

	// Now is the clock; tests replace it to freeze time. It is read once
	// per transaction.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path and applies pending
// migrations. Write transactions begin IMMEDIATE so that concurrent writers,
// in this process or another, queue on the busy timeout instead of failing
// with SQLITE_BUSY when they upgrade a read lock.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, Errorf(EINVALID, "no database path is configured; set AIFACTORY_DB or AIFACTORY_HOME")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	db := &DB{db: sqlDB, path: path, Now: time.Now}
	if err := db.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	// The database holds encrypted tokens and key hashes: keep it private.
	_ = os.Chmod(path, 0o600)
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// IntegrityCheck runs PRAGMA integrity_check and returns its first line.
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var s string
	err := db.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s)
	return s, err
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// A start with nothing to apply takes no write lock: read what is
	// applied first, and open a write transaction only for what is not.
	applied := map[string]bool{}
	rows, err := db.db.QueryContext(ctx, `SELECT name FROM migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		applied[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if applied[name] {
			continue
		}
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies one migration in its own transaction. Two processes
// opening a new store at once serialise on the IMMEDIATE lock; the second
// sees the migration recorded and skips it.
func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// Tx is a write transaction with the time stamped once at its start.
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time
}

// BeginTx starts an IMMEDIATE write transaction.
func (db *DB) BeginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.Now().UTC()}, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// NewID returns a new time-ordered id, for callers that need a project's id
// before they insert it (a clone names its temporary directory after it).
func NewID() string { return newID() }

const timeLayout = time.RFC3339Nano

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return formatTime(*t)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t.UTC()
}

func parseTimePtr(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

// constraintError maps SQLite constraint violations to domain errors, so the
// callers above never see driver text.
func constraintError(err error, conflict string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &Error{Code: ECONFLICT, Message: conflict}
		}
	}
	return err
}

func isUniqueViolation(err error, column string) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	if se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return false
	}
	return column == "" || strings.Contains(se.Error(), column)
}
