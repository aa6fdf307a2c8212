package clone

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
)

// projectLock serialises the syncs of one project inside this process. It
// is a one-slot channel so that a waiter can give up when its call is
// cancelled; refs counts holders and waiters so the entry goes away with
// the last of them.
type projectLock struct {
	slot chan struct{}
	refs int
}

// lockProject serialises syncs of one project: inside this process, and
// across processes sharing the workspace (a server and a `sync --every`
// beside it) with a file lock in the temporary area. It waits for a sync
// in progress until ctx ends; then the error tells the caller to call tool
// again.
func (s *Service) lockProject(ctx context.Context, p *store.Project, tool string) (unlock func(), err error) {
	s.mu.Lock()
	l := s.syncMu[p.ID]
	if l == nil {
		l = &projectLock{slot: make(chan struct{}, 1)}
		s.syncMu[p.ID] = l
	}
	l.refs++
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.syncMu, p.ID)
		}
		s.mu.Unlock()
	}
	busy := func() error {
		return store.Errorf(store.ECONFLICT, "project %s is being synced by another call that has not finished; call %s again shortly", p.Name, tool)
	}
	select {
	case l.slot <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, busy()
	}
	fl, err := s.waitFileLock(ctx, filepath.Join(s.ws.tmpArea(), p.ID+".sync.lock"))
	if err != nil {
		<-l.slot
		done()
		if ctx.Err() != nil {
			return nil, busy()
		}
		return nil, err
	}
	return func() {
		fl.release()
		<-l.slot
		done()
	}, nil
}

// pathLock is a file lock that removes its file when released.
type pathLock struct {
	path string
	l    *fileLock
}

func (p *pathLock) release() {
	os.Remove(p.path) // while held: a waiter then finds its inode gone and retries
	p.l.unlock()
}

// waitFileLock takes the lock at path, polling while another process holds
// it, until ctx ends. A lock won on a file that has meanwhile been removed
// (by its releaser, or by Recover's sweep of stale lock files) is no lock
// at all, so it is dropped and taken again on the file now at path.
func (s *Service) waitFileLock(ctx context.Context, path string) (*pathLock, error) {
	tick := time.NewTicker(s.pollEvery)
	defer tick.Stop()
	for {
		l, ok, err := tryLock(path)
		if err != nil {
			return nil, err
		}
		if ok {
			held, herr := l.f.Stat()
			now, nerr := os.Stat(path)
			if herr == nil && nerr == nil && os.SameFile(held, now) {
				return &pathLock{path: path, l: l}, nil
			}
			l.unlock()
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}
