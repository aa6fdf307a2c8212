package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

// KeyCreateOptions are the inputs of `key create`.
type KeyCreateOptions struct {
	F         *Factory
	Name      string
	Scopes    []string
	ExpiresIn string
}

func newCmdKey(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage scoped acw_ keys", Args: noArgs}
	cmd.AddCommand(newCmdKeyCreate(f, nil), newCmdKeyList(f), newCmdKeyRevoke(f))
	return cmd
}

func newCmdKeyCreate(f *Factory, runF func(context.Context, *KeyCreateOptions) error) *cobra.Command {
	opts := &KeyCreateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "create --name NAME --scope S [--scope S...] [--expires-in DURATION]",
		Short: "Mint an acw_ key; the key is printed once, alone on its line",
		Long: `Mint an acw_ key for an org. Scopes: mcp:read (read-only tools), project:write (create, sync,
delete, registering handover), * (everything; only when you mean it). The key is printed once on
stdout and is not stored: keep it, or mint another.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Name == "" {
				return usageErrorf("--name is required")
			}
			if len(opts.Scopes) == 0 {
				return usageErrorf("at least one --scope is required (%s)", strings.Join(store.ValidScopes, ", "))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return keyCreateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "a name that says where the key is used")
	cmd.Flags().StringArrayVar(&opts.Scopes, "scope", nil, "scope to grant (repeatable): mcp:read, project:write or *")
	cmd.Flags().StringVar(&opts.ExpiresIn, "expires-in", "", "lifetime such as 30d or 12h (default: no expiry)")
	return cmd
}

func keyCreateRun(ctx context.Context, opts *KeyCreateOptions) error {
	f := opts.F
	var expires *time.Time
	if opts.ExpiresIn != "" {
		d, err := parseDuration(opts.ExpiresIn)
		if err != nil {
			return usageErrorf("--expires-in: %v", err)
		}
		t := time.Now().UTC().Add(d)
		expires = &t
	}
	db, err := f.Store(ctx)
	if err != nil {
		return err
	}
	cfg, _ := f.Config()
	plain, k, err := db.CreateKey(ctx, cfg.Org, opts.Name, opts.Scopes, expires)
	if err != nil {
		return err
	}
	detail := "scopes " + strings.Join(k.Scopes, " ")
	if k.AllScopes() {
		detail += " (all scopes)"
	}
	_ = db.Audit(ctx, &store.AuditEntry{OrgID: k.OrgID, KeyID: store.CLIKeyID, Action: "cli.key.create", ResourceID: k.ID, Outcome: store.OutcomeOK, Detail: detail})
	fmt.Fprintln(f.IO.Out, plain.Reveal())
	fmt.Fprintf(f.IO.ErrOut, "Key %s (%s) for org %s with scopes %s. It is shown only this once.\n", k.ID, k.Name, k.OrgSlug, strings.Join(k.Scopes, ", "))
	if k.AllScopes() {
		fmt.Fprintln(f.IO.ErrOut, "Warning: this key carries * (all scopes).")
	}
	return nil
}

func newCmdKeyList(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the org's keys (never the keys themselves)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := f.Store(cmd.Context())
			if err != nil {
				return err
			}
			cfg, _ := f.Config()
			keys, err := db.ListKeys(cmd.Context(), cfg.Org)
			if err != nil {
				return err
			}
			if asJSON {
				if keys == nil {
					keys = []*store.Key{}
				}
				return writeJSON(f.IO.Out, keys)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tORG\tCREATED\tEXPIRES\tLAST USED\tSTATE")
			now := time.Now()
			for _, k := range keys {
				scopes := strings.Join(k.Scopes, ",")
				if k.AllScopes() {
					scopes += " (ALL)"
				}
				state := "active"
				switch {
				case k.RevokedAt != nil:
					state = "revoked"
				case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, scopes, k.OrgSlug,
					fmtTime(&k.CreatedAt), fmtTime(k.ExpiresAt), fmtTime(k.LastUsedAt), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCmdKeyRevoke(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke a key; it stops working on its next call",
		Args:  exactArgs(1, "the key id (see `key list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := f.Store(cmd.Context())
			if err != nil {
				return err
			}
			cfg, _ := f.Config()
			k, err := db.RevokeKey(cmd.Context(), cfg.Org, args[0])
			if err != nil {
				return err
			}
			_ = db.Audit(cmd.Context(), &store.AuditEntry{OrgID: k.OrgID, KeyID: store.CLIKeyID, Action: "cli.key.revoke", ResourceID: k.ID, Outcome: store.OutcomeOK})
			fmt.Fprintf(f.IO.ErrOut, "Revoked key %s (%s).\n", k.ID, k.Name)
			return nil
		},
	}
}
