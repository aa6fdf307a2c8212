// Package mcp serves the aifactory tools and the handover prompt over MCP.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/handover"
	"github.com/aifactory/aifactory-mcp/store"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Deps are what the server needs.
type Deps struct {
	DB      *store.DB
	Clone   *clone.Service
	Key     KeySource
	Logger  *slog.Logger
	Version string
}

// Server holds the tool handlers' dependencies.
type Server struct {
	db       *store.DB
	clone    *clone.Service
	handover *handover.Resolver
	key      KeySource
	log      *slog.Logger
	mcp      *server.MCPServer
	delivery *delivery // progress notifications written, when on stdio
}

// workerPoolSize bounds concurrent tool calls; a long clone holds one
// worker, so keep plenty for the calls answered meanwhile.
const workerPoolSize = 32

// NewServer builds the MCP server with every tool and the prompt.
func NewServer(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{db: d.DB, clone: d.Clone, key: d.Key, log: d.Logger,
		handover: &handover.Resolver{DB: d.DB, Clone: d.Clone}}
	s.mcp = server.NewMCPServer("aifactory", d.Version,
		server.WithToolCapabilities(false),
		server.WithPromptCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions("Registers Git repositories as projects. Call handover with your working directory to find or register this project."),
	)
	for _, t := range s.tools() {
		s.mcp.AddTool(t.Tool, t.Handler)
	}
	s.mcp.AddPrompt(handoverPrompt())
	return s
}

// MCPServer returns the underlying mcp-go server (for in-process tests).
func (s *Server) MCPServer() *server.MCPServer { return s.mcp }

// ServeStdio serves until in closes or ctx ends. Only protocol messages go
// to out; mcp-go's own errors go to the logger.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer, errLog io.Writer) error {
	s.delivery = newDelivery()
	out = countingWriter{w: out, d: s.delivery}
	stdio := server.NewStdioServer(s.mcp)
	server.WithWorkerPoolSize(workerPoolSize)(stdio)
	stdio.SetErrorLogger(log.New(errLog, "mcp: ", log.LstdFlags))
	err := stdio.Listen(ctx, in, out)
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

type toolFunc func(ctx context.Context, actor *store.Actor, req mcp.CallToolRequest) (any, error)

// handle wraps a tool: authenticate, check the scope, run, and turn the
// outcome into a result. It is the one place errors become tool errors.
func (s *Server) handle(name, scope string, fn toolFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		actor, err := s.authenticate(ctx)
		if err == nil {
			err = requireScope(actor, scope)
			if err != nil && scope == store.ScopeProjectWrite {
				s.auditDenied(ctx, actor, name, err)
			}
		}
		var out any
		if err == nil {
			out, err = fn(ctx, actor, req)
		}
		if err != nil {
			return s.toolError(name, err), nil
		}
		text, jerr := json.Marshal(out)
		if jerr != nil {
			return s.toolError(name, jerr), nil
		}
		return mcp.NewToolResultStructured(out, string(text)), nil
	}
}

func (s *Server) toolError(tool string, err error) *mcp.CallToolResult {
	if store.ErrorCode(err) == store.EINTERNAL {
		s.log.Error("tool failed", "tool", tool, "err", err)
	}
	return mcp.NewToolResultError(store.ErrorMessage(err))
}

func (s *Server) auditDenied(ctx context.Context, actor *store.Actor, tool string, err error) {
	_ = s.db.Audit(ctx, &store.AuditEntry{OrgID: actor.OrgID, KeyID: actor.KeyID, Action: "mcp." + tool, Outcome: store.OutcomeDenied, Detail: store.ErrorMessage(err)})
}
