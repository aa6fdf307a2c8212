package clone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
)

// Config configures a Service.
type Config struct {
	DB            *store.DB
	Box           *store.Box // nil: credentials cannot be used, anonymous clones still work
	WorkspaceRoot string
	Policy        NetPolicy
	CloneTimeout  time.Duration // a clone's whole budget (default 10m)
	CloneWait     time.Duration // how long a call waits before answering "cloning" (default 40s)
	Engine        string        // EngineAuto (default), EngineGit or EngineGoGit
	Logger        *slog.Logger
}

// Service is the clone path. Clones that outlive their call run under the
// service's own context, which Close cancels.
type Service struct {
	db        *store.DB
	box       *store.Box
	ws        *Workspace
	policy    *NetPolicy
	op        *operation
	timeout   time.Duration
	wait      time.Duration
	engine    string
	engineLog sync.Once
	log       *slog.Logger
	pollEvery time.Duration

	baseCtx context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	flights map[string]*flight      // org + "\x00" + URL key → clone in progress here
	syncMu  map[string]*projectLock // project id → syncs here
}

// New returns a Service. It installs go-git's guarded transports (once per
// process) and does no other work: call Recover at server start.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("clone: no store")
	}
	ws, err := OpenWorkspace(cfg.WorkspaceRoot)
	if err != nil {
		return nil, err
	}
	installTransports()
	if cfg.CloneTimeout <= 0 {
		cfg.CloneTimeout = 10 * time.Minute
	}
	if cfg.CloneWait <= 0 {
		cfg.CloneWait = 40 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Engine {
	case "":
		cfg.Engine = EngineAuto
	case EngineAuto, EngineGit, EngineGoGit:
	default:
		return nil, fmt.Errorf("unknown clone engine %q; use auto, git or go-git", cfg.Engine)
	}
	policy := cfg.Policy
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		db: cfg.DB, box: cfg.Box, ws: ws, policy: &policy,
		timeout: cfg.CloneTimeout, wait: cfg.CloneWait, engine: cfg.Engine, log: cfg.Logger, pollEvery: 100 * time.Millisecond,
		baseCtx: ctx, cancel: cancel, flights: map[string]*flight{}, syncMu: map[string]*projectLock{},
	}
	s.op = &operation{rt: &authTransport{base: policy.newTransport()}, policy: s.policy}
	return s, nil
}

// ParseURL applies the URL policy, plain http:// included when the operator
// allows it (AIFACTORY_ALLOW_HTTP).
func (s *Service) ParseURL(raw string) (*RepoURL, error) { return ParseURL(raw, s.policy.AllowHTTP) }

// AllowsHTTP reports whether plain http:// URLs are allowed.
func (s *Service) AllowsHTTP() bool { return s.policy.AllowHTTP }

// Root returns the resolved workspace root.
func (s *Service) Root() string { return s.ws.Root }

// Close cancels clones still running in the background and waits for them
// to clean up.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Wait blocks until every background clone has finished (for tests and for
// a command that must not exit under a running clone).
func (s *Service) Wait() { s.wg.Wait() }

// netContext is the context of one network operation: the guarded transport,
// and the credential with the one host it may go to.
func (s *Service) netContext(ctx context.Context, auth *authBinding) context.Context {
	return withAuth(context.WithValue(ctx, opKey{}, s.op), auth)
}

// Recover cleans up after processes that died mid-clone: a project still
// "cloning" whose lock no live process holds is marked failed and its
// temporary directory removed; temporary directories without a live lock
// are removed. Clones that another live process is running are left alone.
func (s *Service) Recover(ctx context.Context) error {
	rows, err := s.db.CloningProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range rows {
		tmp := p.CloneTmp
		if tmp == "" {
			tmp = s.ws.tmpDir(p.ID)
		}
		l, ok, err := tryLock(lockPath(tmp))
		if err != nil || !ok {
			continue // held by a live process, or not ours to judge
		}
		failed, err := s.db.FailClone(ctx, p.ID, "the server process exited before the clone finished; call project_create with the same gitUrl to try again")
		if err == nil {
			os.RemoveAll(tmp)
			if failed {
				s.log.Info("marked an interrupted clone failed", "project", p.ID, "gitUrl", p.GitURL)
			}
		}
		os.Remove(lockPath(tmp))
		l.unlock()
	}
	entries, err := os.ReadDir(s.ws.tmpArea())
	if err != nil {
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".lock") {
			continue
		}
		dir := filepath.Join(s.ws.tmpArea(), name)
		l, ok, err := tryLock(lockPath(dir))
		if err != nil || !ok {
			continue
		}
		os.RemoveAll(dir)
		os.Remove(lockPath(dir))
		l.unlock()
	}
	// Lock files whose directory is gone and that nobody holds.
	entries, _ = os.ReadDir(s.ws.tmpArea())
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		p := filepath.Join(s.ws.tmpArea(), e.Name())
		if exists(strings.TrimSuffix(p, ".lock")) {
			continue
		}
		if l, ok, err := tryLock(p); err == nil && ok {
			os.Remove(p)
			l.unlock()
		}
	}
	return nil
}

func (s *Service) audit(ctx context.Context, actor *store.Actor, action string, e store.AuditEntry, err error) {
	via := actor.Via
	if via == "" {
		via = "mcp"
	}
	e.OrgID, e.KeyID, e.Action = actor.OrgID, actor.KeyID, via+"."+action
	e.Outcome = store.OutcomeOK
	if err != nil {
		e.Outcome = store.OutcomeError
		if store.ErrorCode(err) == store.EFORBIDDEN {
			e.Outcome = store.OutcomeDenied
		}
		e.Detail = truncate(store.ErrorMessage(err), 300)
	}
	if aerr := s.db.Audit(context.WithoutCancel(ctx), &e); aerr != nil {
		s.log.Error("write audit entry", "action", e.Action, "err", aerr)
	}
}
