// Command aifactory-mcp is the stdio MCP server and admin CLI of aifactory.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

func main() {
	memoryLimit = applyContainerMemoryLimit()
	os.Exit(run(os.Args[1:], systemIO()))
}

// memoryLimit is the Go soft memory limit taken from the container's, or 0.
var memoryLimit int64

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how a command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func run(args []string, io *IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := newFactory(io)
	defer f.Close()
	root := newCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	return exitCode(err, io)
}

// exitCode prints err once, in one place, and maps it to the exit status.
func exitCode(err error, io *IOStreams) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(io.ErrOut, "error: %s\nRun with --help for usage.\n", ue.err)
		return exitUsage
	}
	var se *store.Error
	if errors.As(err, &se) {
		fmt.Fprintf(io.ErrOut, "error: %s\n", se.Message)
	} else {
		fmt.Fprintf(io.ErrOut, "error: %s\n", err)
	}
	return exitError
}

func newCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "aifactory-mcp",
		Short: "Stdio MCP server that registers projects from Git URLs",
		Long: `aifactory-mcp serves MCP on stdio (the default command) and administers its store:
orgs, scoped acw_ keys, encrypted Git credentials, projects and the audit log.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), f)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().String("org", "", "org slug for admin commands (env AIFACTORY_ORG, default \"default\")")
	f.flags = root.PersistentFlags()
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(
		newCmdServe(f),
		newCmdInit(f),
		newCmdOrg(f),
		newCmdKey(f),
		newCmdCredential(f),
		newCmdAudit(f),
	)
	addProjectCommands(root, f)
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes `credential lst` a usage error (exit 2):
// cobra would print the group's help and exit 0, which a script or an
// agent takes for success. A group alone still prints its help.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unknown command %q for %s; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		rejectUnknownSubcommands(c)
	}
}

// noArgs and exactArgs report wrong argument counts as usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
