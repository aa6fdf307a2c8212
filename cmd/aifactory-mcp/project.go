package main

import "github.com/spf13/cobra"

func addProjectCommands(root *cobra.Command, f *Factory) {}
