package clone

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// relay is the git CLI engine's only way out: a smart-HTTP endpoint on
// 127.0.0.1 for one clone. It answers only requests that carry its one-time
// secret, only for fetching (info/refs of git-upload-pack, and
// git-upload-pack), and forwards them to the repository through the same
// guarded transport go-git uses — so the network guard, the redirect policy
// and the credential's host binding hold unchanged, and git itself never
// sees the credential: not in its argv, environment, files or config.
type relay struct {
	ln     net.Listener
	srv    *http.Server
	secret string
	path   string // the repository path git asks for, "/repo.git"
	ctx    context.Context
	client *http.Client

	mu       sync.Mutex
	base     string // upstream repository URL; moves with an initial redirect
	status   int    // first upstream 401/403/404
	upstream error  // first transport error
}

func (s *Service) startRelay(ctx context.Context, u *RepoURL, auth *authBinding) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		ln.Close()
		return nil, err
	}
	r := &relay{
		ln: ln, secret: hex.EncodeToString(secret), path: "/" + u.Name + ".git",
		ctx: s.netContext(ctx, auth), base: u.Clean,
		client: &http.Client{Transport: s.op.rt, CheckRedirect: s.policy.checkRedirect},
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 30 * time.Second, ErrorLog: discardLog}
	go r.srv.Serve(ln)
	return r, nil
}

// URL is what git clones from.
func (r *relay) URL() string { return "http://" + r.ln.Addr().String() + r.path }

// header is the extra header git sends to the relay (through its
// environment, never its argv).
func (r *relay) header() string { return "Authorization: Bearer " + r.secret }

func (r *relay) close() { r.srv.Close() }

// failure is what the relay saw go wrong upstream, if anything.
func (r *relay) failure() (status int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.upstream
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	got := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(r.secret)) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var suffix string
	switch {
	case req.Method == http.MethodGet && req.URL.Path == r.path+"/info/refs" && req.URL.RawQuery == "service=git-upload-pack":
		suffix = "/info/refs?service=git-upload-pack"
	case req.Method == http.MethodPost && req.URL.Path == r.path+"/git-upload-pack":
		suffix = "/git-upload-pack"
	default:
		http.NotFound(w, req) // no dumb protocol, no push, nothing else
		return
	}
	r.mu.Lock()
	target := r.base + suffix
	r.mu.Unlock()
	out, err := http.NewRequestWithContext(r.ctx, req.Method, target, req.Body)
	if err != nil {
		r.fail(0, err)
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	out.ContentLength = req.ContentLength
	for _, h := range []string{"Content-Type", "Content-Encoding", "Accept", "Accept-Encoding", "Git-Protocol", "User-Agent"} {
		if v := req.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	client := r.client
	if req.Method == http.MethodPost {
		// Only the initial request may be redirected; later ones go to
		// where it ended, as git itself does.
		c := *r.client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		client = &c
	}
	resp, err := client.Do(out)
	if err != nil {
		r.fail(0, err)
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if req.Method == http.MethodGet && resp.Request.URL.String() != target {
		moved := *resp.Request.URL // where the redirects ended
		moved.RawQuery, moved.RawPath, moved.Fragment = "", "", ""
		moved.Path = strings.TrimSuffix(moved.Path, "/info/refs")
		r.mu.Lock()
		r.base = moved.String()
		r.mu.Unlock()
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		r.fail(status, nil)
		status = http.StatusForbidden // never 401: git would ask for a password
	case status >= 300:
		r.fail(0, errors.New("the Git server answered "+resp.Status))
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "Cache-Control", "Expires", "Pragma"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(status)
	if err := streamBody(w, resp.Body); err != nil {
		r.fail(0, err)
	}
}

func (r *relay) fail(status int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == 0 && r.upstream == nil {
		r.status, r.upstream = status, err
	}
}

// streamBody copies a response as it arrives, so git's progress and the
// pack flow through without being held in memory. It returns the upstream
// read error, if any (git going away is not one).
func streamBody(w http.ResponseWriter, body io.Reader) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			_ = rc.Flush()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var discardLog = log.New(io.Discard, "", 0)
