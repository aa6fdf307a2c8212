package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/handover"
	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

// adminClone is the clone path for a local admin command, logging to stderr.
func (f *Factory) adminClone(ctx context.Context) (*clone.Service, *store.Actor, error) {
	_, actor, err := f.Admin(ctx)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := f.cloneService(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	return svc, actor, nil
}

func addProjectCommands(root *cobra.Command, f *Factory) {
	project := &cobra.Command{Use: "project", Short: "Manage projects (the same code path as the MCP tools)", Args: noArgs}
	project.AddCommand(newCmdProjectAdd(f), newCmdProjectList(f), newCmdProjectRemove(f), newCmdProjectSync(f))
	root.AddCommand(project, newCmdSync(f), newCmdHandover(f))
}

func newCmdProjectAdd(f *Factory) *cobra.Command {
	var req clone.CreateRequest
	cmd := &cobra.Command{
		Use:   "add (URL [--credential ID] [--branch B] [--name N] [--depth N] | --path DIR)",
		Short: "Clone a Git URL into the workspace, or register a directory, as a project",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == (req.Path != "") {
				return usageErrorf("pass a Git URL or --path DIR, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				req.GitURL = args[0]
			}
			svc, actor, err := f.adminClone(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			if f.IO.StderrIsTerminal() {
				req.Progress = func(p clone.Progress) {
					if p.Percent >= 0 {
						fmt.Fprintf(f.IO.ErrOut, "\r%-12s %3d%%", p.Phase, p.Percent)
					} else {
						fmt.Fprintf(f.IO.ErrOut, "\r%-40s", p.Message)
					}
				}
			}
			res, err := svc.Create(cmd.Context(), actor, req)
			if req.Progress != nil {
				fmt.Fprintln(f.IO.ErrOut)
			}
			if err != nil {
				return err
			}
			svc.Wait() // a command does not leave a clone running behind it
			p, err := f.db.GetProject(cmd.Context(), actor.OrgID, res.Project.ID)
			if err != nil {
				return err
			}
			if p.Status == store.StatusFailed {
				return store.Errorf(store.EREMOTE, "%s", p.Error)
			}
			return writeJSON(f.IO.Out, map[string]any{"project": p, "created": res.Created})
		},
	}
	cmd.Flags().StringVar(&req.Path, "path", "", "register this directory instead of cloning")
	cmd.Flags().StringVar(&req.CredentialID, "credential", "", "stored credential id for a private repository")
	cmd.Flags().StringVar(&req.Branch, "branch", "", "branch to check out")
	cmd.Flags().StringVar(&req.Name, "name", "", "display name")
	cmd.Flags().IntVar(&req.Depth, "depth", 0, "history depth (0: full)")
	return cmd
}

func newCmdProjectList(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the org's projects",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, actor, err := f.Admin(cmd.Context())
			if err != nil {
				return err
			}
			var all []*store.Project
			for after := ""; ; {
				page, err := db.ListProjects(cmd.Context(), actor.OrgID, after, 500)
				if err != nil {
					return err
				}
				all = append(all, page...)
				if len(page) < 500 {
					break
				}
				after = page[len(page)-1].ID
			}
			if asJSON {
				if all == nil {
					all = []*store.Project{}
				}
				return writeJSON(f.IO.Out, all)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSOURCE\tBRANCH\tPATH\tGIT URL\tLAST SYNC")
			for _, p := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Status, p.Source, dash(p.Branch), p.Path, dash(p.GitURL), fmtTime(p.LastSyncedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCmdProjectRemove(f *Factory) *cobra.Command {
	var req clone.DeleteRequest
	cmd := &cobra.Command{
		Use:   "remove ID [--delete-files [--force]]",
		Short: "Unregister a project; --delete-files also removes a clone's files",
		Args:  exactArgs(1, "the project id (see `project list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Force && !req.DeleteFiles {
				return usageErrorf("--force only applies with --delete-files")
			}
			req.ProjectID = args[0]
			svc, actor, err := f.adminClone(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			res, err := svc.Delete(cmd.Context(), actor, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "Removed project %s%s.\n", res.ProjectID, note(res.FilesDeleted, " and its files", ""))
			return nil
		},
	}
	cmd.Flags().BoolVar(&req.DeleteFiles, "delete-files", false, "also delete the clone's files (only inside the workspace root)")
	cmd.Flags().BoolVar(&req.Force, "force", false, "delete files even if uncommitted, untracked or unpushed work would be lost")
	return cmd
}

func newCmdProjectSync(f *Factory) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "sync (ID | --all)",
		Short: "git pull --ff-only a cloned project with its stored credential",
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == all || len(args) > 1 {
				return usageErrorf("pass a project id or --all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, actor, err := f.adminClone(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			if all {
				return syncRound(cmd.Context(), f, svc, actor)
			}
			res, err := svc.Sync(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			return writeJSON(f.IO.Out, map[string]any{"project": res.Project, "previousHead": res.PreviousHead, "head": res.Head, "updated": res.Updated})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "sync every cloned project of every org")
	return cmd
}

func syncRound(ctx context.Context, f *Factory, svc *clone.Service, actor *store.Actor) error {
	ok, failures, err := svc.SyncAll(ctx, actor)
	if err != nil {
		return err
	}
	reportRound(f, ok, failures)
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d projects failed to sync", len(failures), ok+len(failures))
	}
	return nil
}

func reportRound(f *Factory, ok int, failures map[string]error) {
	ids := make([]string, 0, len(failures))
	for id := range failures {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(f.IO.ErrOut, "sync %s: %s\n", id, store.ErrorMessage(failures[id]))
	}
	fmt.Fprintf(f.IO.ErrOut, "%s synced %d project(s), %d failed\n", time.Now().UTC().Format(time.RFC3339), ok, len(failures))
}

func newCmdSync(f *Factory) *cobra.Command {
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "sync [--every 5m]",
		Short: "Sync every cloned project once, or forever at an interval",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, actor, err := f.adminClone(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			if every <= 0 {
				return syncRound(cmd.Context(), f, svc, actor)
			}
			return svc.LoopSync(cmd.Context(), actor, every, func(ok int, failures map[string]error) { reportRound(f, ok, failures) })
		},
	}
	cmd.Flags().DurationVar(&every, "every", 0, "repeat at this interval until interrupted (e.g. 5m)")
	return cmd
}

func newCmdHandover(f *Factory) *cobra.Command {
	var req handover.Request
	cmd := &cobra.Command{
		Use:   "handover [--cwd DIR] [--git-url URL] [--credential ID]",
		Short: "Resolve a working directory to a project, registering it if needed; prints the tool's JSON",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Cwd == "" {
				req.Cwd, _ = filepath.Abs(".")
			}
			svc, actor, err := f.adminClone(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			req.CanRegister = true
			res, err := (&handover.Resolver{DB: f.db, Clone: svc}).Resolve(cmd.Context(), actor, req)
			if err != nil {
				return err
			}
			svc.Wait()
			p, _ := f.db.GetProject(cmd.Context(), actor.OrgID, res.Project.ID)
			if p == nil {
				p = res.Project
			}
			return writeJSON(f.IO.Out, map[string]any{"project": p, "matched": res.Matched})
		},
	}
	cmd.Flags().StringVar(&req.Cwd, "cwd", "", "working directory (default: the current one)")
	cmd.Flags().StringVar(&req.GitURL, "git-url", "", "https URL of the repository, if cwd is not a readable checkout")
	cmd.Flags().StringVar(&req.CredentialID, "credential", "", "stored credential id")
	cmd.Flags().StringVar(&req.Branch, "branch", "", "branch to check out when registering")
	return cmd
}
