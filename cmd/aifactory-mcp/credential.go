package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/cobra"
)

// CredentialAddOptions are the inputs of `credential add`. There is no flag
// for the token itself: it comes from stdin or a no-echo prompt.
type CredentialAddOptions struct {
	F          *Factory
	Name       string
	Host       string
	Username   string
	TokenStdin bool
}

func newCmdCredential(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Manage encrypted Git credentials (HTTPS personal access tokens)", Args: noArgs}
	cmd.AddCommand(newCmdCredentialAdd(f, nil), newCmdCredentialList(f), newCmdCredentialRemove(f), newCmdCredentialRotate(f))
	return cmd
}

func newCmdCredentialAdd(f *Factory, runF func(context.Context, *CredentialAddOptions) error) *cobra.Command {
	opts := &CredentialAddOptions{F: f}
	cmd := &cobra.Command{
		Use:   "add --name NAME [--host H[:PORT]] [--username U] --token-stdin",
		Short: "Store an HTTPS personal access token, encrypted; prints only the credential id",
		Long: `Store an HTTPS personal access token for the org, encrypted with the first configured key.
The token is read from stdin with --token-stdin (or from a no-echo prompt on a terminal), trimmed,
and refused if empty or multi-line. With --host the credential is only ever sent to that host and
port (443 when not given). Example:

  printf %s "$GITHUB_TOKEN" | aifactory-mcp credential add --name github-bot --host github.com --token-stdin`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Name == "" {
				return usageErrorf("--name is required")
			}
			if !opts.TokenStdin && !f.IO.StdinIsTerminal() {
				return usageErrorf("pass --token-stdin to read the token from standard input")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credentialAddRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "a name for the credential, e.g. github-deploy-bot")
	cmd.Flags().StringVar(&opts.Host, "host", "", "bind the credential to this host[:port]")
	cmd.Flags().StringVar(&opts.Username, "username", "", "HTTPS user name (default oauth2)")
	cmd.Flags().BoolVar(&opts.TokenStdin, "token-stdin", false, "read the token from standard input")
	return cmd
}

// maxTokenBytes bounds what is read from stdin: PATs are short.
const maxTokenBytes = 16 << 10

func readToken(io *IOStreams, fromStdin bool) (store.Secret, error) {
	var raw []byte
	if !fromStdin && io.StdinIsTerminal() {
		fmt.Fprint(io.ErrOut, "Token (input hidden): ")
		b, err := io.readPassword()
		fmt.Fprintln(io.ErrOut)
		if err != nil {
			return store.Secret{}, fmt.Errorf("read token from terminal: %w", err)
		}
		raw = b
	} else {
		b, err := readAllLimited(io.In, maxTokenBytes)
		if err != nil {
			return store.Secret{}, err
		}
		raw = b
	}
	tok := store.NewSecret(strings.TrimSpace(string(raw)))
	if err := store.ValidateToken(tok); err != nil {
		return store.Secret{}, err
	}
	return tok, nil
}

func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), limit+1))
	if err != nil {
		return nil, fmt.Errorf("read token from stdin: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, store.Errorf(store.EINVALID, "the input on stdin is larger than any token; give exactly one token")
	}
	return b, nil
}

func credentialAddRun(ctx context.Context, opts *CredentialAddOptions) error {
	f := opts.F
	tok, err := readToken(f.IO, opts.TokenStdin)
	if err != nil {
		return err
	}
	db, actor, err := f.Admin(ctx)
	if err != nil {
		return err
	}
	box, err := f.Box()
	if err != nil {
		return err
	}
	c, err := db.CreateCredential(ctx, box, actor.OrgID, opts.Name, opts.Host, opts.Username, tok)
	if err != nil {
		return err
	}
	_ = db.Audit(ctx, &store.AuditEntry{OrgID: actor.OrgID, KeyID: store.CLIKeyID, Action: "cli.credential.add", ResourceID: c.ID, CredentialID: c.ID, Outcome: store.OutcomeOK})
	fmt.Fprintln(f.IO.Out, c.ID)
	return nil
}

func newCmdCredentialList(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the org's credentials (never a token)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, actor, err := f.Admin(cmd.Context())
			if err != nil {
				return err
			}
			creds, err := db.ListCredentials(cmd.Context(), actor.OrgID)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, creds)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tHOST\tUSERNAME\tCREATED\tLAST USED")
			for _, c := range creds {
				host := c.Host
				if host == "" {
					host = "(any)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, host, c.Username, fmtTime(&c.CreatedAt), fmtTime(c.LastUsedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCmdCredentialRemove(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a credential",
		Long:  "Remove a credential. One that projects still use is refused unless --force, which detaches it from them.",
		Args:  exactArgs(1, "the credential id (see `credential list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, actor, err := f.Admin(cmd.Context())
			if err != nil {
				return err
			}
			c, err := db.RemoveCredential(cmd.Context(), actor.OrgID, args[0], force)
			if err != nil {
				return err
			}
			_ = db.Audit(cmd.Context(), &store.AuditEntry{OrgID: actor.OrgID, KeyID: store.CLIKeyID, Action: "cli.credential.remove", ResourceID: c.ID, CredentialID: c.ID, Outcome: store.OutcomeOK})
			fmt.Fprintf(f.IO.ErrOut, "Removed credential %s (%s).\n", c.ID, c.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "detach the credential from projects that use it")
	return cmd
}

func newCmdCredentialRotate(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every stored token with the first configured key",
		Long: `Re-encrypt every stored token, in every org, with the first key of AIFACTORY_SECRET_KEYS (or
the first line of secret.key), in one transaction. Put the new key first and keep the old ones after
it until this has run.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := f.Store(cmd.Context())
			if err != nil {
				return err
			}
			box, err := f.Box()
			if err != nil {
				return err
			}
			n, err := db.RotateCredentialKeys(cmd.Context(), box)
			if err != nil {
				return err
			}
			_ = db.Audit(cmd.Context(), &store.AuditEntry{KeyID: store.CLIKeyID, Action: "cli.credential.rotate-key", Outcome: store.OutcomeOK, Detail: fmt.Sprintf("%d credentials", n)})
			fmt.Fprintf(f.IO.ErrOut, "Re-encrypted %d credentials with the first key.\n", n)
			return nil
		},
	}
}
