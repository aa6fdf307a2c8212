package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aifactory/aifactory-mcp/store"
)

// cli runs the command tree in-process against a fresh home.
type cli struct {
	t    *testing.T
	home string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	home := t.TempDir()
	t.Setenv("AIFACTORY_HOME", home)
	for _, k := range []string{"AIFACTORY_SECRET_KEYS", "AIFACTORY_DB", "PROJECT_WORKSPACE_ROOT", "AIFACTORY_ORG", "KUBERNETES_SERVICE_HOST", "RUNNER_TEMP", "AIFACTORY_MCP_KEY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return &cli{t: t, home: home}
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(args, testIO(strings.NewReader(stdin), &out, &errOut))
	return out.String(), errOut.String(), code
}

func (c *cli) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func TestInit_IdempotentAndPrivate(t *testing.T) {
	c := newCLI(t)
	c.mustRun("", "init")
	key1, err := os.ReadFile(filepath.Join(c.home, ".mcp-key"))
	if err != nil {
		t.Fatal(err)
	}
	secret1, _ := os.ReadFile(filepath.Join(c.home, "secret.key"))
	c.mustRun("", "init")
	key2, _ := os.ReadFile(filepath.Join(c.home, ".mcp-key"))
	secret2, _ := os.ReadFile(filepath.Join(c.home, "secret.key"))
	if !bytes.Equal(key1, key2) || !bytes.Equal(secret1, secret2) {
		t.Fatal("second init overwrote a key")
	}
	if err := store.ParseKey(strings.TrimSpace(string(key1))); err != nil {
		t.Fatalf(".mcp-key holds no valid key: %v", err)
	}
	for _, name := range []string{".mcp-key", "secret.key", "aifactory.db"} {
		fi, err := os.Stat(filepath.Join(c.home, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode = %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Join(c.home, "workspaces")); err != nil || !fi.IsDir() {
		t.Fatalf("workspaces/ not created: %v", err)
	}
	out := c.mustRun("", "key", "list", "--json")
	if strings.Count(out, `"id"`) != 1 {
		t.Fatalf("init minted more than one key over two runs:\n%s", out)
	}
}

func TestKeyCreate_PrintedOnce(t *testing.T) {
	c := newCLI(t)
	stdout, stderr, code := c.run("", "key", "create", "--name", "ci", "--scope", "mcp:read", "--scope", "project:write", "--expires-in", "30d")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 1 || store.ParseKey(lines[0]) != nil {
		t.Fatalf("stdout should be exactly the key on one line, got %q", stdout)
	}
	if strings.Contains(stderr, lines[0]) {
		t.Fatal("the key was also written to stderr")
	}
	list := c.mustRun("", "key", "list")
	if strings.Contains(list, lines[0]) || !strings.Contains(list, lines[0][:12]) {
		t.Fatalf("key list should show the prefix only:\n%s", list)
	}
	audit := c.mustRun("", "audit", "list", "--json")
	if strings.Contains(audit, lines[0]) {
		t.Fatal("audit log holds the key")
	}
}

func TestKeyCreate_UsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"key", "create", "--scope", "mcp:read"},
		{"key", "create", "--name", "x"},
		{"key", "create", "--name", "x", "--scope", "mcp:read", "--expires-in", "soon"},
		{"key", "create", "--bogus"},
		{"key", "revoke"},
		{"nonsense"},
		{"credential", "lst"},
		{"project", "lst"},
		{"org", "delete", "x"},
	} {
		if _, _, code := c.run("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if stdout, _, code := c.run("", "credential"); code != 0 || !strings.Contains(stdout, "rotate-key") {
		t.Errorf("a command group alone: exit %d, want its help", code)
	}
	if _, stderr, code := c.run("", "key", "create", "--name", "x", "--scope", "admin"); code != 1 || !strings.Contains(stderr, "unknown scope") {
		t.Errorf("unknown scope: exit %d, %s", code, stderr)
	}
}

func TestCredentialAdd_FlagParsing(t *testing.T) {
	c := newCLI(t)
	f := newFactory(testIO(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}))
	var got *CredentialAddOptions
	cmd := newCmdCredentialAdd(f, func(_ context.Context, o *CredentialAddOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--name", "bot", "--host", "git.example.com:8443", "--username", "u", "--token-stdin"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Name != "bot" || got.Host != "git.example.com:8443" || got.Username != "u" || !got.TokenStdin {
		t.Fatalf("options = %+v", got)
	}
	if cmd.Flags().Lookup("token") != nil {
		t.Fatal("there must be no flag that takes a token")
	}
	_ = c
}

func TestCredentialAdd_TokenNeverEchoed(t *testing.T) {
	c := newCLI(t)
	const token = "ghp_SENTINEL_never_shown_0123456789"
	stdout, stderr, code := c.run("  "+token+"\n", "credential", "add", "--name", "bot", "--host", "github.com", "--token-stdin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if strings.Contains(stdout, token) || strings.Contains(stderr, token) || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout should be only the id: %q / %q", stdout, stderr)
	}
	list := c.mustRun("", "credential", "list", "--json")
	if strings.Contains(list, token) || !strings.Contains(list, id) || strings.Contains(list, "token") {
		t.Fatalf("credential list:\n%s", list)
	}
	if hits := grepTree(t, c.home, token); len(hits) != 0 {
		t.Fatalf("plaintext token found in %v", hits)
	}
	// The stored token decrypts to the trimmed input.
	db, err := store.Open(context.Background(), filepath.Join(c.home, "aifactory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, _ := store.LoadKeyFile(filepath.Join(c.home, "secret.key"))
	box, _ := store.NewBox(keys)
	org, _ := db.OrgBySlug(context.Background(), "default")
	_, tok, err := db.CredentialToken(context.Background(), box, org.ID, id)
	if err != nil || tok.Reveal() != token {
		t.Fatalf("stored token does not round-trip: %v", err)
	}

	for _, bad := range []string{"", "   \n", "a\nb\n"} {
		if _, stderr, code := c.run(bad, "credential", "add", "--name", "x", "--token-stdin"); code != 1 {
			t.Errorf("token %q: exit %d (%s)", bad, code, stderr)
		}
	}
	if _, _, code := c.run(token, "credential", "add", "--name", "x"); code != 2 {
		t.Errorf("without --token-stdin on a pipe: exit %d, want 2", code)
	}
}

func TestCredentialRotateKey(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.mustRun("tok-one", "credential", "add", "--name", "a", "--token-stdin"))
	old, _ := os.ReadFile(filepath.Join(c.home, "secret.key"))
	newKeyFile := filepath.Join(t.TempDir(), "k")
	if _, err := store.CreateKeyFile(newKeyFile); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(newKeyFile)
	t.Setenv("AIFACTORY_SECRET_KEYS", strings.TrimSpace(string(newKey))+","+strings.TrimSpace(string(old)))
	c.mustRun("", "credential", "rotate-key")
	t.Setenv("AIFACTORY_SECRET_KEYS", strings.TrimSpace(string(newKey)))
	db, _ := store.Open(context.Background(), filepath.Join(c.home, "aifactory.db"))
	defer db.Close()
	keys, _ := store.ParseKeys(string(newKey))
	box, _ := store.NewBox(keys)
	org, _ := db.OrgBySlug(context.Background(), "default")
	if _, tok, err := db.CredentialToken(context.Background(), box, org.ID, id); err != nil || tok.Reveal() != "tok-one" {
		t.Fatalf("after rotate-key: %v", err)
	}
}

func TestOrgScopedAdmin(t *testing.T) {
	c := newCLI(t)
	c.mustRun("", "org", "create", "acme", "--name", "Acme")
	c.mustRun("tok", "--org", "acme", "credential", "add", "--name", "a", "--token-stdin")
	if out := c.mustRun("", "credential", "list", "--json"); strings.Contains(out, `"a"`) {
		t.Fatal("default org sees acme's credential")
	}
	t.Setenv("AIFACTORY_ORG", "acme")
	if out := c.mustRun("", "credential", "list", "--json"); !strings.Contains(out, `"a"`) {
		t.Fatal("AIFACTORY_ORG not honoured")
	}
	if _, stderr, code := c.run("", "--org", "nope", "credential", "list"); code != 1 || !strings.Contains(stderr, "org create nope") {
		t.Fatalf("unknown org: %d %s", code, stderr)
	}
}

func TestWorkspaceRootDefaults(t *testing.T) {
	newCLI(t)
	home, _ := homeDir()
	cases := []struct{ env, val, want string }{
		{"", "", filepath.Join(home, "workspaces")},
		{"KUBERNETES_SERVICE_HOST", "10.0.0.1", "/var/lib/aifactory/workspaces"},
		{"RUNNER_TEMP", "/tmp/runner", "/tmp/runner/aifactory-workspaces"},
		{"PROJECT_WORKSPACE_ROOT", "/srv/ws", "/srv/ws"},
	}
	for _, tc := range cases {
		if tc.env != "" {
			t.Setenv(tc.env, tc.val)
		}
		cfg, err := loadConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.WorkspaceRoot != tc.want {
			t.Errorf("%s=%s: workspace root %s, want %s", tc.env, tc.val, cfg.WorkspaceRoot, tc.want)
		}
		if tc.env != "" {
			os.Unsetenv(tc.env)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	c := newCLI(t)
	if err := os.WriteFile(filepath.Join(c.home, "config.yaml"), []byte("clone_wait: 5s\norg: fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(nil)
	if err != nil || cfg.CloneWait.String() != "5s" || cfg.Org != "fromfile" {
		t.Fatalf("config.yaml not read: %+v %v", cfg, err)
	}
	t.Setenv("AIFACTORY_CLONE_WAIT", "7s")
	cfg, _ = loadConfig(nil)
	if cfg.CloneWait.String() != "7s" {
		t.Fatalf("env should beat config.yaml: %v", cfg.CloneWait)
	}
}

// grepTree returns the files under dir whose bytes contain s.
func grepTree(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}
