package clone

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

type opKey struct{}

// operation is what a network operation's context carries to the shared
// go-git transport: the service's guarded transport and policy.
type operation struct {
	rt     http.RoundTripper
	policy *NetPolicy
}

var installOnce sync.Once

// installTransports makes go-git reach the network only through this
// package: its http and https transports dispatch to the guarded transport
// of the operation in the request's context, and the file, git and ssh
// transports are removed so no code path can reach them (file:// would run
// a local git-upload-pack).
func installTransports() {
	installOnce.Do(func() {
		for _, scheme := range []string{"file", "git", "ssh"} {
			client.InstallProtocol(scheme, nil)
		}
		hc := &http.Client{Transport: dispatcher{}, CheckRedirect: dispatchRedirect}
		t := githttp.NewClientWithOptions(hc, &githttp.ClientOptions{RedirectPolicy: githttp.FollowInitialRedirects})
		client.InstallProtocol("https", t)
		client.InstallProtocol("http", t)
	})
}

var errNoOperation = errors.New("network access outside the clone service is refused")

type dispatcher struct{}

func (dispatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	op, _ := req.Context().Value(opKey{}).(*operation)
	if op == nil {
		return nil, errNoOperation
	}
	return op.rt.RoundTrip(req)
}

func dispatchRedirect(req *http.Request, via []*http.Request) error {
	op, _ := req.Context().Value(opKey{}).(*operation)
	if op == nil {
		return errNoOperation
	}
	return op.policy.checkRedirect(req, via)
}

// goGitObjectCache bounds go-git's cache of decoded objects (96 MiB by
// default) for a clone. Measured with BenchmarkClone: peak memory 174 →
// 111 MiB, time within the run-to-run noise.
const goGitObjectCache = 16 * cache.MiByte

// cloneWithGoGit is git.PlainCloneContext with a bounded object cache and
// the garbage collector tightened while it runs.
func cloneWithGoGit(ctx context.Context, dir string, opts *git.CloneOptions) (*git.Repository, error) {
	defer tightenGC()()
	st, wt, err := boundedStorage(dir)
	if err != nil {
		return nil, err
	}
	return git.CloneContext(ctx, st, wt, opts)
}

// boundedStorage is dir as a worktree and its .git directory as storage
// with the bounded object cache, as git.PlainOpen lays them out.
func boundedStorage(dir string) (*filesystem.Storage, billy.Filesystem, error) {
	wt := osfs.New(dir)
	dot, err := wt.Chroot(git.GitDirName)
	if err != nil {
		return nil, nil, err
	}
	return filesystem.NewStorage(dot, cache.NewObjectLRU(goGitObjectCache)), wt, nil
}

// openClone opens a clone this service made (a .git directory) with the
// bounded object cache; any other layout is opened as go-git does.
func openClone(dir string) (*git.Repository, error) {
	if fi, err := os.Lstat(filepath.Join(dir, git.GitDirName)); err != nil || !fi.IsDir() {
		return git.PlainOpen(dir)
	}
	st, wt, err := boundedStorage(dir)
	if err != nil {
		return nil, err
	}
	return git.Open(st, wt)
}

// goGitGCPercent is the garbage collector's target (GOGC) while a go-git
// clone or sync runs. Such a clone keeps tens of MiB of objects live for a while,
// and at Go's default of 100 the heap grows to twice that between
// collections. Measured with BenchmarkClone (16,000 files, 61 MiB pack):
// peak memory 111 → 84 MiB, 1.43× the git CLI's, for up to ~10% more time.
const goGitGCPercent = 25

// gcTight counts the go-git clones running, and the GOGC to restore when
// the last one ends.
var gcTight struct {
	sync.Mutex
	clones int
	prev   int
}

// tightenGC lowers GOGC to goGitGCPercent until the returned func is called,
// unless it is already lower or off (an operator's choice stands).
func tightenGC() (restore func()) {
	gcTight.Lock()
	defer gcTight.Unlock()
	if gcTight.clones == 0 {
		gcTight.prev = currentGCPercent()
		if gcTight.prev > goGitGCPercent {
			debug.SetGCPercent(goGitGCPercent)
		}
	}
	gcTight.clones++
	return func() {
		gcTight.Lock()
		defer gcTight.Unlock()
		if gcTight.clones--; gcTight.clones == 0 && gcTight.prev > goGitGCPercent {
			debug.SetGCPercent(gcTight.prev)
		}
	}
}

// currentGCPercent reads GOGC without changing it; -1 when off.
func currentGCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(s[0].Value.Uint64())) // off reads as 1<<64-1, that is -1
}
