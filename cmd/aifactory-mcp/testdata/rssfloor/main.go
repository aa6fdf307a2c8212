// Command rssfloor is the yardstick of BenchmarkIdleRSSFloor: a one-tool
// mcp-go stdio server, built in three steps with build tags, so the idle
// resident memory of aifactory-mcp can be read against what its chosen
// packages cost on their own.
//
//	(no tag)     mcp-go alone
//	floor_sqlite + open the store with modernc.org/sqlite and read from it
//	floor_deps   + go-git, viper and cobra initialised as well
//
// Every step returns start-up garbage to the OS after a second, as the
// server does.
package main

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// steps are run before serving, in the order the build's files add them.
var steps []func()

func main() {
	for _, step := range steps {
		step()
	}
	s := server.NewMCPServer("rssfloor", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("hello", mcp.WithDescription("Say hello."), mcp.WithString("name", mcp.Required())),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("hello"), nil
		})
	time.AfterFunc(time.Second, debug.FreeOSMemory)
	if err := server.NewStdioServer(s).Listen(context.Background(), os.Stdin, os.Stdout); err != nil {
		os.Exit(1)
	}
}
