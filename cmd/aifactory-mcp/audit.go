package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newCmdAudit(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log", Args: noArgs}
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--org SLUG] [--limit N] [--json]",
		Short: "List audit entries, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, actor, err := f.Admin(cmd.Context())
			if err != nil {
				return err
			}
			entries, err := db.ListAudit(cmd.Context(), actor.OrgID, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, entries)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tKEY\tACTION\tRESOURCE\tGIT URL\tCREDENTIAL\tOUTCOME\tDETAIL")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(&e.At), e.KeyID, e.Action, dash(e.ResourceID), dash(e.GitURL), dash(e.CredentialID), e.Outcome, dash(e.Detail))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many entries")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
