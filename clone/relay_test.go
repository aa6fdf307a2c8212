package clone

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aifactory/aifactory-mcp/store"
)

// TestRelayRefuses: the relay git clones from answers only its secret, and
// only the fetch requests of its one repository — before any upstream
// traffic (the upstream here does not exist).
func TestRelayRefuses(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{DB: db, WorkspaceRoot: t.TempDir(), Engine: EngineGit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := ParseURL("https://127.0.0.1:1/org/app.git", false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.startRelay(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if strings.Contains(r.URL(), r.secret) {
		t.Fatal("the secret is in the URL git is given (its argv)")
	}
	bearer := strings.TrimPrefix(r.header(), "Authorization: ")
	for _, c := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/app.git/info/refs?service=git-upload-pack", "", http.StatusForbidden},
		{"GET", "/app.git/info/refs?service=git-upload-pack", "Bearer wrong", http.StatusForbidden},
		{"GET", "/app.git/info/refs?service=git-upload-pack", "Basic " + r.secret, http.StatusForbidden},
		{"GET", "/app.git/info/refs?service=git-receive-pack", bearer, http.StatusNotFound},
		{"POST", "/app.git/git-receive-pack", bearer, http.StatusNotFound},
		{"GET", "/app.git/objects/info/packs", bearer, http.StatusNotFound},
		{"GET", "/other.git/info/refs?service=git-upload-pack", bearer, http.StatusNotFound},
		{"POST", "/app.git/info/refs?service=git-upload-pack", bearer, http.StatusNotFound},
		{"GET", "/app.git/info/refs?service=git-upload-pack", bearer, http.StatusBadGateway}, // allowed; upstream unreachable
	} {
		req, _ := http.NewRequest(c.method, "http://"+r.ln.Addr().String()+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s (%q): %d, want %d", c.method, c.path, c.auth, resp.StatusCode, c.want)
		}
	}
}
