package clone

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// The operations classify words its messages for.
const (
	opClone = "clone"
	opSync  = "sync"
)

// classify turns a clone or fetch failure into one sentence for the user.
// When ctx (the operation's) has ended, that is the cause, whatever the
// transport made of it (often "unexpected EOF"). Domain errors pass
// through; everything else is named by kind, and any text that does leave
// is cut short and scrubbed of the token and userinfo.
func (s *Service) classify(ctx context.Context, op string, err error, u *RepoURL, auth *authBinding) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	var ge *guardError
	if errors.As(err, &ge) {
		return ge.err
	}
	var se *store.Error
	if errors.As(err, &se) {
		return scrubbed(se, auth)
	}
	host := u.HostPort
	switch {
	case errors.Is(err, context.DeadlineExceeded) && op == opSync:
		return store.Errorf(store.EREMOTE, "the fetch from %s did not finish within the clone timeout (%s, AIFACTORY_CLONE_TIMEOUT); the branch and its files were not changed — try again later, or ask the operator for a longer timeout", u.Clean, s.timeout)
	case errors.Is(err, context.DeadlineExceeded):
		return store.Errorf(store.EREMOTE, "the clone of %s did not finish within the clone timeout (%s, AIFACTORY_CLONE_TIMEOUT); nothing was kept — try depth: 1, or ask the operator for a longer timeout", u.Clean, s.timeout)
	case errors.Is(err, context.Canceled) && op == opSync:
		return store.Errorf(store.EREMOTE, "the sync from %s was cancelled; the branch and its files were not changed", u.Clean)
	case errors.Is(err, context.Canceled):
		return store.Errorf(store.EREMOTE, "the clone of %s was cancelled; nothing was kept", u.Clean)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrRepositoryNotFound):
		return notFoundError(u, auth)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return store.Errorf(store.EREMOTE, "the repository %s is empty; push a first commit, then call again", u.Clean)
	case strings.Contains(err.Error(), "redirect: changes scheme from"): // go-git's own check, met before ours
		return errDowngrade()
	case errors.Is(err, plumbing.ErrReferenceNotFound), strings.Contains(err.Error(), "couldn't find remote ref"),
		strings.Contains(err.Error(), "reference not found"):
		return store.Errorf(store.EREMOTE, "the branch does not exist in %s; pass an existing branch, or none for the default branch", u.Clean)
	}
	var ua x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	if errors.As(err, &ua) || errors.As(err, &hostErr) || errors.As(err, &certInvalid) || strings.Contains(err.Error(), "certificate") {
		return store.Errorf(store.EREMOTE, "the TLS certificate of %s is not trusted; if the host uses a private CA, ask the operator to set AIFACTORY_CA_FILE", host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return store.Errorf(store.EREMOTE, "host %s could not be resolved; check the URL", u.Host)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return store.Errorf(store.EREMOTE, "%s refused the connection; check the URL and that the Git server is up", host)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return store.Errorf(store.EREMOTE, "the connection to %s timed out; try again later", host)
	}
	return store.Errorf(store.EREMOTE, "the Git operation on %s failed: %s", u.Clean, Scrub(truncate(err.Error(), 300), auth))
}

func notFoundError(u *RepoURL, auth *authBinding) error {
	if auth != nil {
		return store.Errorf(store.EREMOTE, "repository not found or access denied — check credential %s (does it have access to %s, and has it expired?)", auth.credName, u.Clean)
	}
	return store.Errorf(store.EREMOTE, "repository not found or access denied — %s needs a credential if it is private: pass gitCredentialId (see credential_list)", u.Clean)
}

func scrubbed(se *store.Error, auth *authBinding) error {
	msg := Scrub(se.Message, auth)
	if msg == se.Message {
		return se
	}
	return &store.Error{Code: se.Code, Message: msg}
}

var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// Scrub removes the token of auth and any URL userinfo from s.
func Scrub(s string, auth *authBinding) string {
	if auth != nil && auth.token.Reveal() != "" {
		s = strings.ReplaceAll(s, auth.token.Reveal(), "[redacted]")
	}
	return userinfoRE.ReplaceAllString(s, "${1}")
}
