package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

type initResult struct {
	db            *store.DB
	Home          string `json:"home"`
	Database      string `json:"database"`
	SecretKeyFile string `json:"secretKeyFile"`
	MCPKeyFile    string `json:"mcpKeyFile"`
	Workspaces    string `json:"workspaceRoot"`
	Org           string `json:"org"`
	MintedKey     bool   `json:"mintedKey"`
	CreatedSecret bool   `json:"createdSecretKey"`
}

// initialize creates whatever of the home is missing: directories, the
// database, the default org, secret.key and a stdio key in .mcp-key. It never
// overwrites an existing key or secret, so it is safe to run again.
func initialize(ctx context.Context, cfg *Config) (*initResult, error) {
	res := &initResult{Home: cfg.Home, Database: cfg.DB, SecretKeyFile: cfg.SecretKeyFile,
		MCPKeyFile: filepath.Join(cfg.Home, ".mcp-key"), Workspaces: cfg.WorkspaceRoot, Org: store.DefaultOrgSlug}
	if err := os.MkdirAll(cfg.Home, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.Home, err)
	}
	if err := os.MkdirAll(cfg.WorkspaceRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace root %s: %w; set PROJECT_WORKSPACE_ROOT to a writable directory", cfg.WorkspaceRoot, err)
	}
	if os.Getenv("AIFACTORY_SECRET_KEYS") == "" {
		created, err := store.CreateKeyFile(cfg.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		res.CreatedSecret = created
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	res.db = db
	if _, _, err := db.EnsureOrg(ctx, store.DefaultOrgSlug, "Default"); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := os.Stat(res.MCPKeyFile); errors.Is(err, os.ErrNotExist) {
		minted, err := mintKeyFile(ctx, db, res.MCPKeyFile)
		if err != nil {
			db.Close()
			return nil, err
		}
		res.MintedKey = minted
	}
	return res, nil
}

// mintKeyFile mints a default-org key and links it into place atomically; a
// concurrent first run that loses the race revokes its own key.
func mintKeyFile(ctx context.Context, db *store.DB, path string) (bool, error) {
	plain, k, err := db.CreateKey(ctx, store.DefaultOrgSlug, "stdio (init)", []string{store.ScopeRead, store.ScopeProjectWrite}, nil)
	if err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mcp-key-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.WriteString(plain.Reveal() + "\n"); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		_, _ = db.RevokeKey(ctx, store.DefaultOrgSlug, k.ID)
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	_ = db.Audit(ctx, &store.AuditEntry{OrgID: k.OrgID, KeyID: store.CLIKeyID, Action: "cli.key.create", ResourceID: k.ID,
		Outcome: store.OutcomeOK, Detail: "minted by init for " + path})
	return true, nil
}

func newCmdInit(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Initialise the home: database, default org, encryption key and stdio MCP key",
		Long: `Create whatever of the home is missing: the SQLite database, the default org, secret.key and
an acw_ key for the default org (scopes mcp:read, project:write) in .mcp-key. Existing keys and
secrets are never overwritten, so init is safe to run again.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			res, err := initialize(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			res.db.Close()
			if asJSON {
				return writeJSON(f.IO.Out, res)
			}
			out := f.IO.Out
			fmt.Fprintf(out, "home:            %s\n", res.Home)
			fmt.Fprintf(out, "database:        %s\n", res.Database)
			if os.Getenv("AIFACTORY_SECRET_KEYS") != "" {
				fmt.Fprintf(out, "encryption keys: AIFACTORY_SECRET_KEYS\n")
			} else {
				fmt.Fprintf(out, "encryption key:  %s%s\n", res.SecretKeyFile, note(res.CreatedSecret, " (created)", " (kept)"))
			}
			fmt.Fprintf(out, "stdio MCP key:   %s%s\n", res.MCPKeyFile, note(res.MintedKey, " (created)", " (kept)"))
			fmt.Fprintf(out, "workspace root:  %s\n", res.Workspaces)
			fmt.Fprintf(out, "org:             %s\n", res.Org)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the paths as JSON")
	return cmd
}

func note(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}
