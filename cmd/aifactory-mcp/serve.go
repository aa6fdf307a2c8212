package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aifactory/aifactory-mcp/clone"
	"github.com/aifactory/aifactory-mcp/mcp"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newCmdServe(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve MCP on stdio (the default command)",
		Long:  "Serve MCP on stdio. Nothing but MCP messages goes to stdout; logs go to stderr or AIFACTORY_LOG_FILE.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f)
		},
	}
}

// newLogger writes to the log file or stderr, never stdout.
func newLogger(cfg *Config, errOut io.Writer) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel))); err != nil {
		return nil, nil, fmt.Errorf("AIFACTORY_LOG_LEVEL %q is not one of debug, info, warn, error", cfg.LogLevel)
	}
	w, closeFn := errOut, func() {}
	if cfg.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.LogFile), 0o700); err != nil {
			return nil, nil, fmt.Errorf("cannot create the directory of AIFACTORY_LOG_FILE %s: %w", cfg.LogFile, err)
		}
		lf, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open AIFACTORY_LOG_FILE %s; point it at a writable file: %w", cfg.LogFile, err)
		}
		w, closeFn = lf, func() { lf.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closeFn, nil
}

// cloneService builds the clone path from the configuration.
func (f *Factory) cloneService(ctx context.Context, log *slog.Logger) (*clone.Service, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	db, err := f.Store(ctx)
	if err != nil {
		return nil, err
	}
	box, err := f.Box()
	if err != nil {
		log.Warn("stored credentials are unavailable", "reason", err.Error())
		box = nil
	}
	policy := clone.NetPolicy{AllowedHosts: cfg.AllowedHosts, AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		AllowLinkLocal: cfg.AllowLinkLocal, AllowHTTP: cfg.AllowHTTP}
	if cfg.CAFile != "" {
		if policy.RootCAs, err = clone.LoadCAFile(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	return clone.New(clone.Config{DB: db, Box: box, WorkspaceRoot: cfg.WorkspaceRoot, Policy: policy,
		CloneTimeout: cfg.CloneTimeout, CloneWait: cfg.CloneWait, Engine: cfg.CloneEngine, Logger: log})
}

func runServe(ctx context.Context, f *Factory) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg, f.IO.ErrOut)
	if err != nil {
		return err
	}
	defer closeLog()
	db, err := f.Store(ctx)
	if err != nil {
		return err
	}
	if f.firstRun != nil {
		log.Info("initialised a new home", "home", cfg.Home, "mcpKeyFile", f.firstRun.MCPKeyFile)
	}
	svc, err := f.cloneService(ctx, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	if err := svc.Recover(ctx); err != nil {
		log.Warn("recovering interrupted clones", "err", err)
	}
	key := mcp.ResolveKey(cfg.Home)
	if key.Err != nil {
		log.Warn("MCP key refused; every tool call will say so", "source", key.Source, "reason", key.Err.Error())
	} else if key.Key.IsZero() {
		log.Warn("no MCP key configured; every tool call will say how to mint one")
	}
	srv := mcp.NewServer(mcp.Deps{DB: db, Clone: svc, Key: key, Logger: log, Version: version})
	// Start-up garbage (schema compilation in mcp-go above all) is returned
	// to the OS once the server has settled, not on the answer path.
	idle := time.AfterFunc(time.Second, debug.FreeOSMemory)
	defer idle.Stop()
	if memoryLimit > 0 {
		log.Info("Go heap held under 80% of the container's memory limit (set GOMEMLIMIT to choose)", "bytes", memoryLimit)
	}
	log.Info("serving MCP on stdio", "workspaceRoot", svc.Root(), "keySource", key.Source)
	return srv.ServeStdio(ctx, f.IO.In, f.IO.Out, f.IO.ErrOut)
}
