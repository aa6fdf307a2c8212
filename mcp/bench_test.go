package mcp

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aifactory/aifactory-mcp/store"
)

// BenchmarkProjectListHandler is project_list inside the server, without
// the pipe: authentication, the page query over 10,000 projects, and the
// JSON-RPC answer. BenchmarkProjectList (cmd) measures it over stdio.
func BenchmarkProjectListHandler(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	org, _ := db.CreateOrg(ctx, "acme", "")
	for i := 0; i < 10000; i++ {
		p := &store.Project{OrgID: org.ID, Name: fmt.Sprintf("app%05d", i), Path: fmt.Sprintf("/w/app%05d", i),
			GitURL: fmt.Sprintf("https://git.example.com/org/app%05d.git", i), URLKey: fmt.Sprintf("git.example.com/org/app%05d", i),
			Source: store.SourceClone, Status: store.StatusReady, Branch: "main"}
		if err := db.InsertProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	key, _, err := db.CreateKey(ctx, "acme", "bench", []string{"*"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := NewServer(Deps{DB: db, Key: KeySource{Key: key}})
	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"project_list","arguments":{}}}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp := s.MCPServer().HandleMessage(ctx, msg); resp == nil {
			b.Fatal("no answer")
		}
	}
}
