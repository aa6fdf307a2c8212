package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/fernet/fernet-go"
)

func openTestDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newBox(t *testing.T, n int) (*store.Box, []*fernet.Key) {
	t.Helper()
	var keys []*fernet.Key
	for i := 0; i < n; i++ {
		var k fernet.Key
		if err := k.Generate(); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, &k)
	}
	box, err := store.NewBox(keys)
	if err != nil {
		t.Fatal(err)
	}
	return box, keys
}

func mustOrg(t *testing.T, db *store.DB, slug string) *store.Org {
	t.Helper()
	o, err := db.CreateOrg(context.Background(), slug, "")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := store.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestOpen_MigrationsRerun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for i := 0; i < 3; i++ {
		db, err := store.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i == 0 {
			mustOrg(t, db, "acme")
		}
		orgs, err := db.ListOrgs(context.Background())
		if err != nil || len(orgs) != 1 {
			t.Fatalf("orgs after open %d = %v, %v", i, orgs, err)
		}
		db.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("database mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestOrg_Create(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		o := mustOrg(t, db, "acme")
		got, err := db.OrgBySlug(ctx, "acme")
		if err != nil || got.ID != o.ID || got.Name != "acme" {
			t.Fatalf("OrgBySlug = %+v, %v", got, err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := db.CreateOrg(ctx, "acme", "")
		wantCode(t, err, store.ECONFLICT)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, s := range []string{"", "Acme", "-a", "a b", strings.Repeat("a", 64), "a/b"} {
			_, err := db.CreateOrg(ctx, s, "")
			wantCode(t, err, store.EINVALID)
		}
	})
	t.Run("EnsureIdempotent", func(t *testing.T) {
		a, created, err := db.EnsureOrg(ctx, "default", "Default")
		if err != nil || !created {
			t.Fatalf("first ensure: %v %v", created, err)
		}
		b, created, err := db.EnsureOrg(ctx, "default", "Default")
		if err != nil || created || a.ID != b.ID {
			t.Fatalf("second ensure: %v %v", created, err)
		}
	})
}

func TestKey_CreateAuthenticate(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	org := mustOrg(t, db, "acme")

	t.Run("OK", func(t *testing.T) {
		plain, k, err := db.CreateKey(ctx, "acme", "laptop", []string{"mcp:read", "project:write", "mcp:read"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Scopes) != 2 || !strings.HasPrefix(plain.Reveal(), "acw_") || !strings.HasPrefix(plain.Reveal(), k.Prefix) {
			t.Fatalf("key = %+v", k)
		}
		a, err := db.Authenticate(ctx, plain.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		if a.OrgID != org.ID || a.KeyID != k.ID || !a.HasScope("project:write") || a.HasScope("*") {
			t.Fatalf("actor = %+v", a)
		}
		keys, _ := db.ListKeys(ctx, "acme")
		if len(keys) != 1 || keys[0].LastUsedAt == nil {
			t.Fatalf("last use not stamped: %+v", keys)
		}
	})
	t.Run("ErrUnknownScope", func(t *testing.T) {
		_, _, err := db.CreateKey(ctx, "acme", "x", []string{"admin"}, nil)
		wantCode(t, err, store.EINVALID)
		_, _, err = db.CreateKey(ctx, "acme", "x", nil, nil)
		wantCode(t, err, store.EINVALID)
	})
	t.Run("ErrUnknownOrg", func(t *testing.T) {
		_, _, err := db.CreateKey(ctx, "nope", "x", []string{"mcp:read"}, nil)
		wantCode(t, err, store.ENOTFOUND)
	})
	t.Run("ErrExpired", func(t *testing.T) {
		exp := now.Add(time.Hour)
		plain, _, err := db.CreateKey(ctx, "acme", "short", []string{"mcp:read"}, &exp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, plain.Reveal()); err != nil {
			t.Fatal(err)
		}
		db.Now = func() time.Time { return exp }
		defer func() { db.Now = func() time.Time { return now } }()
		_, err = db.Authenticate(ctx, plain.Reveal())
		wantCode(t, err, store.EUNAUTHORIZED)
		if !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "key create") {
			t.Fatalf("message = %q", err)
		}
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		plain, k, _ := db.CreateKey(ctx, "acme", "gone", []string{"mcp:read"}, nil)
		if _, err := db.RevokeKey(ctx, "acme", k.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.Authenticate(ctx, plain.Reveal())
		wantCode(t, err, store.EUNAUTHORIZED)
		if !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("message = %q", err)
		}
		_, err = db.RevokeKey(ctx, "default-missing", k.ID)
		wantCode(t, err, store.ENOTFOUND)
	})
	t.Run("ErrUnknownAndMistyped", func(t *testing.T) {
		other, _ := store.GenerateKey()
		_, err := db.Authenticate(ctx, other)
		wantCode(t, err, store.EUNAUTHORIZED)
		if !strings.Contains(err.Error(), "not known") {
			t.Fatalf("message = %q", err)
		}
		mistyped := other[:10] + flip(other[10]) + other[11:]
		_, err = db.Authenticate(ctx, mistyped)
		if !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("mistyped key message = %q", err)
		}
		if strings.Contains(err.Error(), mistyped) {
			t.Fatal("error repeats the key")
		}
		_, err = db.Authenticate(ctx, "")
		wantCode(t, err, store.EUNAUTHORIZED)
	})
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestParseKey(t *testing.T) {
	for i := 0; i < 100; i++ {
		k, err := store.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := store.ParseKey(k); err != nil {
			t.Fatalf("generated key %d does not parse: %v", i, err)
		}
	}
	for _, bad := range []string{"", "acw_", "acx_" + strings.Repeat("a", 36), "acw_" + strings.Repeat("a", 36), "acw_" + strings.Repeat("-", 36)} {
		if store.ParseKey(bad) == nil {
			t.Fatalf("ParseKey(%q) accepted", bad)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	k, _ := store.GenerateKey()
	f.Add(k)
	f.Add("acw_")
	f.Add("acw_000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		err := store.ParseKey(s)
		if err == nil {
			if len(s) != store.KeyLen || !strings.HasPrefix(s, store.KeyPrefix) {
				t.Fatalf("accepted malformed key %q", s)
			}
			return
		}
		if store.ErrorCode(err) != store.EUNAUTHORIZED {
			t.Fatalf("code = %s", store.ErrorCode(err))
		}
		if len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("error repeats the input")
		}
	})
}

func TestCredential(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	box, _ := newBox(t, 1)
	acme, other := mustOrg(t, db, "acme"), mustOrg(t, db, "other")

	c, err := db.CreateCredential(ctx, box, acme.ID, "bot", "GitHub.com:443", "", store.NewSecret("ghp_sentinel123"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "github.com" || c.Username != "oauth2" {
		t.Fatalf("credential = %+v", c)
	}
	t.Run("TokenRoundTrip", func(t *testing.T) {
		got, tok, err := db.CredentialToken(ctx, box, acme.ID, c.ID)
		if err != nil || tok.Reveal() != "ghp_sentinel123" || got.Name != "bot" {
			t.Fatalf("CredentialToken = %v %v", got, err)
		}
		if fmt.Sprintf("%v %s %#v %q", tok, tok, tok, tok) == "" || strings.Contains(fmt.Sprintf("%v %s %#v %q %x", tok, tok, tok, tok, tok), "sentinel") {
			t.Fatal("Secret leaks through fmt")
		}
	})
	t.Run("OrgIsolation", func(t *testing.T) {
		_, err := db.GetCredential(ctx, other.ID, c.ID)
		wantCode(t, err, store.ENOTFOUND)
		_, _, err = db.CredentialToken(ctx, box, other.ID, c.ID)
		wantCode(t, err, store.ENOTFOUND)
		list, _ := db.ListCredentials(ctx, other.ID)
		if len(list) != 0 {
			t.Fatalf("other org sees %d credentials", len(list))
		}
		_, err = db.RemoveCredential(ctx, other.ID, c.ID, false)
		wantCode(t, err, store.ENOTFOUND)
		_, crossOrg := db.GetCredential(ctx, other.ID, c.ID)
		const missingID = "00000000-0000-0000-0000-000000000000"
		_, missing := db.GetCredential(ctx, other.ID, missingID)
		if strings.ReplaceAll(crossOrg.Error(), c.ID, "ID") != strings.ReplaceAll(missing.Error(), missingID, "ID") {
			t.Fatalf("another org's id reads differently from a missing id: %q vs %q", crossOrg, missing)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tok := range []store.Secret{store.NewSecret(""), store.NewSecret("a\nb"), store.NewSecret("a b")} {
			_, err := db.CreateCredential(ctx, box, acme.ID, "x", "", "", tok)
			wantCode(t, err, store.EINVALID)
		}
		for _, h := range []string{"https://github.com", "github.com/x", "h:0", "h:99999", "u@h"} {
			_, err := db.CreateCredential(ctx, box, acme.ID, "x", h, "", store.NewSecret("t"))
			wantCode(t, err, store.EINVALID)
		}
	})
	t.Run("ErrDuplicateName", func(t *testing.T) {
		_, err := db.CreateCredential(ctx, box, acme.ID, "bot", "", "", store.NewSecret("t"))
		wantCode(t, err, store.ECONFLICT)
		if _, err := db.CreateCredential(ctx, box, other.ID, "bot", "", "", store.NewSecret("t")); err != nil {
			t.Fatalf("same name in another org: %v", err)
		}
	})
	t.Run("UndecryptableNamesCredential", func(t *testing.T) {
		wrong, _ := newBox(t, 1)
		_, _, err := db.CredentialToken(ctx, wrong, acme.ID, c.ID)
		wantCode(t, err, store.EINVALID)
		if !strings.Contains(err.Error(), `"bot"`) {
			t.Fatalf("message = %q", err)
		}
	})
}

func TestCredential_RotateKeys(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	oldBox, oldKeys := newBox(t, 1)
	org := mustOrg(t, db, "acme")
	var ids []string
	for i := 0; i < 3; i++ {
		c, err := db.CreateCredential(ctx, oldBox, org.ID, "c"+strconv.Itoa(i), "", "", store.NewSecret("tok"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	_, newKeys := newBox(t, 1)
	both, _ := store.NewBox([]*fernet.Key{newKeys[0], oldKeys[0]})
	n, err := db.RotateCredentialKeys(ctx, both)
	if err != nil || n != 3 {
		t.Fatalf("rotate = %d, %v", n, err)
	}
	onlyNew, _ := store.NewBox(newKeys)
	for i, id := range ids {
		_, tok, err := db.CredentialToken(ctx, onlyNew, org.ID, id)
		if err != nil || tok.Reveal() != "tok"+strconv.Itoa(i) {
			t.Fatalf("after rotation credential %d: %v", i, err)
		}
	}
	t.Run("ErrUndecryptableChangesNothing", func(t *testing.T) {
		third, _ := newBox(t, 1)
		_, err := db.RotateCredentialKeys(ctx, third)
		wantCode(t, err, store.EINVALID)
		if _, _, err := db.CredentialToken(ctx, onlyNew, org.ID, ids[0]); err != nil {
			t.Fatalf("failed rotation changed a token: %v", err)
		}
	})
}

func TestProject_OrgIsolationAndUniqueness(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	acme, other := mustOrg(t, db, "acme"), mustOrg(t, db, "other")
	p := &store.Project{OrgID: acme.ID, Name: "app", Path: "/w/app", GitURL: "https://h/a/app", URLKey: "h/a/app",
		Source: store.SourceClone, Status: store.StatusReady}
	if err := db.InsertProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrURLTaken", func(t *testing.T) {
		q := *p
		q.ID, q.Path = "", "/w/app-2"
		if err := db.InsertProject(ctx, &q); err != store.ErrURLTaken {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrPathTaken", func(t *testing.T) {
		q := *p
		q.ID, q.OrgID = "", other.ID
		if err := db.InsertProject(ctx, &q); err != store.ErrPathTaken {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SameURLOtherOrg", func(t *testing.T) {
		q := *p
		q.ID, q.OrgID, q.Path = "", other.ID, "/w/app-other"
		if err := db.InsertProject(ctx, &q); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		if _, err := db.GetProject(ctx, other.ID, p.ID); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("GetProject across orgs: %v", err)
		}
		if _, err := db.ProjectContaining(ctx, other.ID, "/w/app/sub"); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("ProjectContaining across orgs: %v", err)
		}
		if err := db.DeleteProject(ctx, other.ID, p.ID); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("DeleteProject across orgs: %v", err)
		}
		if _, err := db.RecordSync(ctx, other.ID, p.ID, "x", ""); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("RecordSync across orgs: %v", err)
		}
		got, _ := db.GetProject(ctx, acme.ID, p.ID)
		if got.Head != "" {
			t.Fatal("RecordSync from another org changed the project")
		}
		list, _ := db.ListProjects(ctx, other.ID, "", 50)
		for _, q := range list {
			if q.ID == p.ID {
				t.Fatal("ListProjects shows another org's project")
			}
		}
	})
	t.Run("ContainingOnPathBoundary", func(t *testing.T) {
		inner := &store.Project{OrgID: acme.ID, Name: "inner", Path: "/w/app/vendor/lib", Source: store.SourcePath, Status: store.StatusReady}
		if err := db.InsertProject(ctx, inner); err != nil {
			t.Fatal(err)
		}
		for dir, want := range map[string]string{"/w/app": p.ID, "/w/app/src/x": p.ID, "/w/app/vendor/lib/a": inner.ID} {
			got, err := db.ProjectContaining(ctx, acme.ID, dir)
			if err != nil || got.ID != want {
				t.Fatalf("ProjectContaining(%s) = %v, %v", dir, got, err)
			}
		}
		if _, err := db.ProjectContaining(ctx, acme.ID, "/w/app2"); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("/w/app2 matched: %v", err)
		}
	})
}

func TestProject_ListPagination(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	org := mustOrg(t, db, "acme")
	for i := 0; i < 120; i++ {
		if err := db.InsertProject(ctx, &store.Project{OrgID: org.ID, Name: "p", Path: fmt.Sprintf("/w/p%d", i),
			Source: store.SourcePath, Status: store.StatusReady}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		list, err := db.ListProjects(ctx, org.ID, after, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			if seen[p.ID] {
				t.Fatalf("project %s seen twice", p.ID)
			}
			seen[p.ID] = true
		}
		if len(list) < 50 {
			break
		}
		after = list[len(list)-1].ID
	}
	if len(seen) != 120 {
		t.Fatalf("saw %d projects, want 120", len(seen))
	}
}

// TestConcurrentWriters runs 8 goroutines in this process and a second
// process on the same file, all writing at once. None may fail with
// SQLITE_BUSY: write transactions begin IMMEDIATE and wait on the timeout.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustOrg(t, db, "acme")

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), "STORE_HELPER_DB="+path)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*25)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			writeMany(context.Background(), db, fmt.Sprintf("g%d", g), 25, errs)
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("writer: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	audit, err := db.ListAudit(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 8*25+50 {
		t.Fatalf("audit rows = %d, want %d", len(audit), 8*25+50)
	}
	if s, err := db.IntegrityCheck(context.Background()); err != nil || s != "ok" {
		t.Fatalf("integrity_check = %q, %v", s, err)
	}
}

func writeMany(ctx context.Context, db *store.DB, who string, n int, errs chan<- error) {
	org, err := db.OrgBySlug(ctx, "acme")
	if err != nil {
		errs <- err
		return
	}
	for i := 0; i < n; i++ {
		if err := db.InsertProject(ctx, &store.Project{OrgID: org.ID, Name: who, Path: fmt.Sprintf("/w/%s-%d", who, i),
			Source: store.SourcePath, Status: store.StatusReady}); err != nil {
			errs <- err
		}
		if err := db.Audit(ctx, &store.AuditEntry{OrgID: org.ID, KeyID: who, Action: "test", Outcome: "ok"}); err != nil {
			errs <- err
		}
	}
}

func TestHelperWriter(t *testing.T) {
	path := os.Getenv("STORE_HELPER_DB")
	if path == "" {
		t.Skip("helper process for TestConcurrentWriters")
	}
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	errs := make(chan error, 100)
	writeMany(context.Background(), db, "proc", 50, errs)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSecretNeverPrints: a Secret shows no plaintext under any verb, in a
// struct's unexported field (how clone holds a token), or in JSON.
func TestSecretNeverPrints(t *testing.T) {
	s := store.NewSecret("ghp_SENTINEL")
	type holder struct {
		host  string
		token store.Secret
		Key   store.Secret
	}
	h := holder{"github.com", s, s}
	out := fmt.Sprintf("%v %s %q %x %X %d %#v %+v %v %+v %#v", s, s, s, s, s, s, s, h, &h, h, h)
	b, _ := json.Marshal(map[string]any{"s": s, "h": h})
	if strings.Contains(out+string(b), "SENTINEL") || strings.Contains(out, fmt.Sprintf("%x", "ghp_SENTINEL")) {
		t.Fatalf("a Secret printed its plaintext: %s %s", out, b)
	}
	if s.Reveal() != "ghp_SENTINEL" || !store.NewSecret("").IsZero() || s.IsZero() {
		t.Fatal("Reveal or IsZero is wrong")
	}
}
