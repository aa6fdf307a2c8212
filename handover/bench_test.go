package handover_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/handover"
	"github.com/aifactory/aifactory-mcp/store"
)

// BenchmarkResolvePath resolves a working directory three levels inside one
// of 10,000 registered projects (the path branch of handover: clean,
// resolve symlinks, one indexed lookup of the ancestors).
func BenchmarkResolvePath(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	org, _ := db.CreateOrg(ctx, "acme", "")
	root := filepath.Join(dir, "w")
	for i := 0; i < 10000; i++ {
		p := &store.Project{OrgID: org.ID, Name: fmt.Sprintf("app%05d", i), Path: filepath.Join(root, fmt.Sprintf("app%05d", i)),
			Source: store.SourcePath, Status: store.StatusReady}
		if err := db.InsertProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	cwd := filepath.Join(root, "app05000", "src", "pkg", "x")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		b.Fatal(err)
	}
	svc, err := clone.New(clone.Config{DB: db, WorkspaceRoot: filepath.Join(dir, "ws")})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	r := &handover.Resolver{DB: db, Clone: svc}
	actor := &store.Actor{OrgID: org.ID, OrgSlug: "acme", KeyID: "k", Via: "mcp"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := r.Resolve(ctx, actor, handover.Request{Cwd: cwd})
		if err != nil || res.Matched != handover.MatchedPath {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
