package mcp

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/aifactory/aifactory-mcp/store"
)

// KeySource is where the stdio server's key came from, or why there is none.
type KeySource struct {
	Key    store.Secret
	Source string // for logs: never the key
	Err    error  // a refused key file; reported on every tool call
}

// ResolveKey finds the stdio key: the first non-empty of $AIFACTORY_MCP_KEY,
// $AIFACTORY_HOME/.mcp-key, the file named by $AIFACTORY_API_TOKEN_FILE and
// $AIFACTORY_HOME/.token. A key file that other users can read is refused.
func ResolveKey(home string) KeySource {
	if k := strings.TrimSpace(os.Getenv("AIFACTORY_MCP_KEY")); k != "" {
		return KeySource{Key: store.NewSecret(k), Source: "AIFACTORY_MCP_KEY"}
	}
	files := []string{filepath.Join(home, ".mcp-key")}
	if f := os.Getenv("AIFACTORY_API_TOKEN_FILE"); f != "" {
		files = append(files, f)
	}
	files = append(files, filepath.Join(home, ".token"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) == "" {
			continue
		}
		if err := store.CheckPrivateFile(f); err != nil {
			return KeySource{Source: f, Err: err}
		}
		return KeySource{Key: store.NewSecret(strings.TrimSpace(string(b))), Source: f}
	}
	return KeySource{Source: "none"}
}

// authenticate verifies the key on every call, so revocation and expiry
// take effect at once.
func (s *Server) authenticate(ctx context.Context) (*store.Actor, error) {
	if s.key.Err != nil {
		return nil, s.key.Err
	}
	return s.db.Authenticate(ctx, s.key.Key.Reveal())
}

// requireScope is the one scope check of the MCP surface.
func requireScope(actor *store.Actor, scope string) error {
	if scope == "" || actor.HasScope(scope) {
		return nil
	}
	return store.Errorf(store.EFORBIDDEN, "this key lacks the %s scope; mint one that has it with `aifactory-mcp key create --org %s --name NAME --scope %s`", scope, actor.OrgSlug, scope)
}
