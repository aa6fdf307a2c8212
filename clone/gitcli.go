package clone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Clone engines. Sync, delete and handover always use go-git; a clone
// uses the git CLI when the engine is "git", or "auto" and git 2.31 or
// newer is on PATH, because it checks out large repositories several
// times faster and in a third of the memory (see BenchmarkClone).
const (
	EngineAuto  = "auto"
	EngineGit   = "git"
	EngineGoGit = "go-git"
)

// minGit is the oldest git whose configuration can come from the
// environment (GIT_CONFIG_COUNT), which keeps the relay secret off argv.
var minGit = [2]int{2, 31}

// gitBinary locates git once per process.
var gitBinary = sync.OnceValues(func() (string, error) {
	path, err := exec.LookPath("git")
	if err != nil {
		return "", errors.New("git is not on PATH")
	}
	cmd := exec.Command(path, "version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git version: %w", err)
	}
	if v, ok := parseGitVersion(string(out)); !ok || v[0] < minGit[0] || v[0] == minGit[0] && v[1] < minGit[1] {
		return "", fmt.Errorf("%s is older than git %d.%d", strings.TrimSpace(string(out)), minGit[0], minGit[1])
	}
	return path, nil
})

// parseGitVersion reads "git version 2.39.5" (or "2.39.5.windows.1").
func parseGitVersion(s string) ([2]int, bool) {
	f := strings.Fields(s)
	if len(f) < 3 || f[0] != "git" || f[1] != "version" {
		return [2]int{}, false
	}
	parts := strings.SplitN(f[2], ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	var v [2]int
	for i, p := range parts[:2] {
		if p == "" || len(p) > 6 || strings.Trim(p, "0123456789") != "" {
			return [2]int{}, false
		}
		v[i], _ = strconv.Atoi(p)
	}
	return v, true
}

// gitEngine returns the git binary a clone should use, or "" for go-git.
// The first clone logs which engine it is.
func (s *Service) gitEngine() (path string, err error) {
	defer func() {
		if err == nil {
			s.engineLog.Do(func() {
				if path != "" {
					s.log.Info("clone engine: the git CLI through the relay", "git", path)
				} else {
					s.log.Info("clone engine: go-git", "setting", s.engine)
				}
			})
		}
	}()
	if s.engine == EngineGoGit {
		return "", nil
	}
	path, gerr := gitBinary()
	switch {
	case gerr == nil:
		return path, nil
	case s.engine == EngineGit:
		return "", store.Errorf(store.EINTERNAL, "AIFACTORY_CLONE_ENGINE is git but %v; install git 2.31 or newer, or set AIFACTORY_CLONE_ENGINE=go-git", gerr)
	default:
		return "", nil // auto: go-git
	}
}

// cloneWithGit runs `git clone` against a relay on 127.0.0.1 (relay.go):
// git reaches nothing but the relay, and the relay reaches nothing but the
// repository, through the guarded transport that adds the credential.
func (s *Service) cloneWithGit(ctx context.Context, gitPath, dir string, u *RepoURL, req CreateRequest, auth *authBinding, pw *progressWriter) (*git.Repository, error) {
	r, err := s.startRelay(ctx, u, auth)
	if err != nil {
		return nil, err
	}
	defer r.close()
	args := []string{
		"-c", "protocol.allow=never", "-c", "protocol.http.allow=always",
		"-c", "http.followRedirects=false", "-c", "credential.helper=", "-c", "core.askPass=",
		"-c", "init.templateDir=", "-c", "advice.detachedHead=false",
		"clone", "--progress", "--single-branch", "--no-local",
	}
	if req.Branch != "" {
		args = append(args, "--branch="+req.Branch)
	}
	if req.Depth > 0 {
		args = append(args, "--depth="+strconv.Itoa(req.Depth))
	}
	args = append(args, "--", r.URL(), dir)
	cmd := exec.CommandContext(ctx, gitPath, args...)
	cmd.Dir = filepath.Dir(dir)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(dir), "LC_ALL=C", "LANG=C",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_TERMINAL_PROMPT=0",
		// The relay's one-time secret, never the credential.
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=" + r.header(),
	}
	if runtime.GOOS == "windows" {
		cmd.Env = append(cmd.Env, "SYSTEMROOT="+os.Getenv("SYSTEMROOT"))
	}
	var tail tailBuffer
	cmd.Stderr = io.MultiWriter(pw, &tail)
	cmd.WaitDelay = 5 * time.Second
	killProcessGroup(cmd)
	err = cmd.Run()
	out := strings.ReplaceAll(tail.String(), r.URL(), u.Clean)
	if err == nil {
		if strings.Contains(out, "cloned an empty repository") {
			return nil, transport.ErrEmptyRemoteRepository
		}
		return setOrigin(dir, u.Clean)
	}
	status, upstream := r.failure()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case upstream != nil:
		return nil, upstream
	case status != 0:
		return nil, transport.ErrRepositoryNotFound
	case strings.Contains(out, "Remote branch") && strings.Contains(out, "not found"):
		return nil, plumbing.ErrReferenceNotFound
	}
	return nil, fmt.Errorf("git clone: %s", lastLine(out))
}

// setOrigin opens the clone and points origin at the repository instead of
// the relay.
func setOrigin(dir, url string) (*git.Repository, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	origin := cfg.Remotes["origin"]
	if origin == nil {
		return nil, errors.New("git clone left no origin remote")
	}
	origin.URLs = []string{url}
	return repo, repo.SetConfig(cfg)
}

func lastLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return strings.TrimPrefix(l, "fatal: ")
		}
	}
	return "no output"
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.Clone(t.buf))
}
