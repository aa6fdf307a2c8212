package clone_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/aifactory/aifactory-mcp/clone"
)

// engine is the clone engine of the current pass: the whole suite runs once
// with go-git and once with the git CLI, so that both keep every invariant.
var engine = clone.EngineGoGit

func TestMain(m *testing.M) {
	flag.Parse()
	engines := []string{clone.EngineGoGit, clone.EngineGit}
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		engines = engines[:1] // fuzzing has nothing to do with the engine
	}
	code := 0
	for _, e := range engines {
		engine = e
		fmt.Fprintf(os.Stderr, "clone: tests with the %s engine\n", e)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	os.Exit(code)
}
