package clone

import (
	"errors"
	"net/http"
	"sync"

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
