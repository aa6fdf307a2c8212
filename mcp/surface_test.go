package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the tool-surface snapshots under testdata")

// contractTools are CONTRACT §5's tools with their annotation hints
// (readOnly, destructive, idempotent, openWorld) and scope-free arguments.
var contractTools = map[string]struct {
	hints [4]bool
	args  []string
}{
	"project_create":  {[4]bool{false, false, true, true}, []string{"branch", "depth", "gitCredentialId", "gitUrl", "name", "path"}},
	"project_list":    {[4]bool{true, false, true, false}, []string{"cursor"}},
	"project_get":     {[4]bool{true, false, true, false}, []string{"path", "projectId"}},
	"project_sync":    {[4]bool{false, false, true, true}, []string{"projectId"}},
	"project_delete":  {[4]bool{false, true, false, false}, []string{"deleteFiles", "force", "projectId"}},
	"credential_list": {[4]bool{true, false, true, false}, []string{}},
	"handover":        {[4]bool{false, false, true, true}, []string{"branch", "cwd", "gitCredentialId", "gitUrl"}},
	"whoami":          {[4]bool{true, false, true, false}, []string{}},
}

// rpc sends one JSON-RPC request to an in-process server and returns its
// result member, indented, exactly as a client would receive it.
func rpc(t *testing.T, s *Server, method string) json.RawMessage {
	t.Helper()
	req := []byte(`{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":{}}`)
	raw, err := json.Marshal(s.MCPServer().HandleMessage(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Error != nil {
		t.Fatalf("%s: %s", method, raw)
	}
	return resp.Result
}

// TestToolSurfaceSnapshot keeps tools/list and prompts/list under testdata,
// so a change to a name, description, schema or annotation shows in review.
// Run `go test ./mcp -run Snapshot -update` after an intended change.
func TestToolSurfaceSnapshot(t *testing.T) {
	s := NewServer(Deps{Version: "test"})
	for file, method := range map[string]string{"tools.json": "tools/list", "prompts.json": "prompts/list"} {
		var buf bytes.Buffer
		if err := json.Indent(&buf, rpc(t, s, method), "", "  "); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
		golden := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(want, buf.Bytes()) {
			t.Errorf("%s answer differs from %s; review the change and run `go test ./mcp -run Snapshot -update`:\n%s", method, golden, buf.String())
		}
	}
}

func TestToolSurfaceFollowsContract(t *testing.T) {
	s := NewServer(Deps{Version: "test"})
	raw := rpc(t, s, "tools/list")
	if len(raw) >= 10_000 {
		t.Errorf("tools/list answer is %d bytes; keep it under 10 KB", len(raw))
	}
	var list struct {
		Tools []struct {
			Name         string
			Description  string
			InputSchema  struct{ Properties map[string]map[string]any }
			OutputSchema *struct {
				Type       string
				Properties map[string]any
			}
			Annotations map[string]*bool
		}
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tool := range list.Tools {
		want, ok := contractTools[tool.Name]
		if !ok {
			t.Errorf("tool %q is not in the contract", tool.Name)
			continue
		}
		if seen[tool.Name] {
			t.Errorf("tool %q listed twice", tool.Name)
		}
		seen[tool.Name] = true
		if tool.Description == "" || len(tool.Description) > 300 {
			t.Errorf("%s: description of %d characters; keep it short and present", tool.Name, len(tool.Description))
		}
		var args []string
		for name, prop := range tool.InputSchema.Properties {
			args = append(args, name)
			if prop["description"] == nil {
				t.Errorf("%s.%s has no description", tool.Name, name)
			}
		}
		sort.Strings(args)
		if !slices.Equal(args, want.args) && len(args)+len(want.args) > 0 {
			t.Errorf("%s arguments %v, contract %v", tool.Name, args, want.args)
		}
		if tool.OutputSchema == nil || tool.OutputSchema.Type != "object" || len(tool.OutputSchema.Properties) == 0 {
			t.Errorf("%s has no object outputSchema", tool.Name)
		}
		for i, hint := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			v := tool.Annotations[hint]
			if v == nil {
				t.Errorf("%s: %s not set explicitly", tool.Name, hint)
			} else if *v != want.hints[i] {
				t.Errorf("%s: %s = %v, contract says %v", tool.Name, hint, *v, want.hints[i])
			}
		}
	}
	for name := range contractTools {
		if !seen[name] {
			t.Errorf("contract tool %s is missing", name)
		}
	}
}
