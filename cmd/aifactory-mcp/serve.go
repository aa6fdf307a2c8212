package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newCmdServe(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve MCP on stdio (the default command)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f)
		},
	}
}

func runServe(ctx context.Context, f *Factory) error {
	_, err := f.Store(ctx)
	return err
}
