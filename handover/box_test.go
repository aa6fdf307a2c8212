package handover_test

import (
	"testing"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/fernet/fernet-go"
)

func mustBox(t *testing.T) *store.Box {
	t.Helper()
	var k fernet.Key
	if err := k.Generate(); err != nil {
		t.Fatal(err)
	}
	b, err := store.NewBox([]*fernet.Key{&k})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
