package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

func newCmdOrg(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organisations", Args: noArgs}
	var name string
	create := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create an organisation",
		Args:  exactArgs(1, "the org slug"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := f.Store(cmd.Context())
			if err != nil {
				return err
			}
			o, err := db.CreateOrg(cmd.Context(), args[0], name)
			if err != nil {
				return err
			}
			_ = db.Audit(cmd.Context(), &store.AuditEntry{OrgID: o.ID, KeyID: store.CLIKeyID, Action: "cli.org.create", ResourceID: o.ID, Outcome: store.OutcomeOK})
			fmt.Fprintln(f.IO.Out, o.ID)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (default: the slug)")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List organisations",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := f.Store(cmd.Context())
			if err != nil {
				return err
			}
			orgs, err := db.ListOrgs(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, orgs)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSLUG\tNAME\tCREATED")
			for _, o := range orgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ID, o.Slug, o.Name, fmtTime(&o.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(create, list)
	return cmd
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
