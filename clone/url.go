// Package clone is the one clone path of aifactory-mcp: URL policy, workspace
// placement, go-git clone and sync with credentials on the HTTP transport
// only, the network guard, and delete. The MCP tools, the command line and
// handover all call it.
package clone

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aifactory/aifactory-mcp/store"
)

// RepoURL is a Git URL that passed the policy.
type RepoURL struct {
	Scheme   string // https, or http when allowed
	Host     string // lower-case host name or IP literal (without brackets)
	Port     string // "" when default
	Path     string // escaped path as given, without trailing slashes
	Clean    string // scheme://host[:port]/path — no userinfo, query or fragment
	Key      string // identity within an org: host[:port]/path, no trailing .git or /
	HostPort string // the form credentials are bound to (store.CanonicalHost)
	Name     string // workspace directory name derived from the last path segment
}

// MaxURLLength bounds a Git URL; real ones are far shorter.
const MaxURLLength = 2048

const useCredentialHint = "store the token with `aifactory-mcp credential add` and pass its id as gitCredentialId"

func invalid(format string, args ...any) error { return store.Errorf(store.EINVALID, format, args...) }

// ParseURL applies the URL policy: https only (http only when allowHTTP),
// no userinfo, no transport-helper or local forms, no traversal. Its
// errors say what to do instead and never echo userinfo.
func ParseURL(raw string, allowHTTP bool) (*RepoURL, error) {
	switch {
	case raw == "":
		return nil, invalid("gitUrl is empty; pass an https:// URL such as https://github.com/org/repo.git")
	case len(raw) > MaxURLLength:
		return nil, invalid("gitUrl is longer than %d characters; pass the repository's https:// URL", MaxURLLength)
	case !utf8.ValidString(raw) || strings.IndexFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return nil, invalid("gitUrl contains spaces or control characters; pass the repository's https:// URL")
	case strings.HasPrefix(raw, "-"):
		return nil, invalid("gitUrl may not start with '-'; pass the repository's https:// URL")
	}
	schemeEnd := strings.Index(raw, "://")
	if schemeEnd < 0 {
		if strings.Contains(raw, "::") {
			return nil, invalid("transport-helper URLs (such as ext::) are refused; pass the repository's https:// URL")
		}
		if at, colon := strings.Index(raw, "@"), strings.Index(raw, ":"); colon > 0 && (at < 0 || at < colon) && !strings.Contains(raw[:colon], "/") {
			return nil, invalid("SSH-style URLs (git@host:path) are not supported; use the https:// URL of the repository and, for a private one, %s", useCredentialHint)
		}
		return nil, invalid("gitUrl is not a URL; pass the repository's https:// URL such as https://github.com/org/repo.git")
	}
	scheme := strings.ToLower(raw[:schemeEnd])
	switch scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return nil, invalid("plain http:// URLs are refused (they would expose the code and any credential); use https://")
		}
	case "ssh", "git+ssh", "ssh+git":
		return nil, invalid("SSH URLs are not supported; use the https:// URL of the repository and, for a private one, %s", useCredentialHint)
	case "git":
		return nil, invalid("git:// URLs are refused (unauthenticated and unencrypted); use the https:// URL of the repository")
	case "file":
		return nil, invalid("file:// URLs are refused; to register a directory on this server pass path instead of gitUrl")
	default:
		if strings.Contains(scheme, "::") || strings.HasPrefix(scheme, "ext") || strings.HasPrefix(scheme, "fd") {
			return nil, invalid("transport-helper URLs (such as ext::) are refused; pass the repository's https:// URL")
		}
		return nil, invalid("only https:// Git URLs are supported; pass the repository's https:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("gitUrl is not a valid URL; pass the repository's https:// URL such as https://github.com/org/repo.git")
	}
	if u.User != nil {
		return nil, invalid("gitUrl may not contain a user name or token; pass the URL without it and %s", useCredentialHint)
	}
	if u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, invalid("gitUrl may not carry a query or fragment; pass the repository's plain https:// URL")
	}
	host := u.Hostname()
	port := u.Port()
	if host == "" {
		return nil, invalid("gitUrl has no host; pass the repository's https:// URL such as https://github.com/org/repo.git")
	}
	if err := checkHostSyntax(host); err != nil {
		return nil, err
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return nil, invalid("gitUrl has an invalid port %q", port)
		}
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	path, err := checkPath(u)
	if err != nil {
		return nil, err
	}
	name, err := RepoName(path)
	if err != nil {
		return nil, err
	}
	host = strings.ToLower(host)
	r := &RepoURL{Scheme: scheme, Host: host, Port: port, Path: path, Name: name}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	r.Clean = scheme + "://" + hostport + path
	key := strings.TrimSuffix(strings.TrimRight(path, "/"), ".git")
	r.Key = hostport + strings.TrimRight(key, "/")
	credPort := port
	if scheme == "http" && port == "" {
		credPort = "80"
	}
	r.HostPort = store.CanonicalHost(host, credPort)
	return r, nil
}

func checkHostSyntax(host string) error {
	for _, r := range host {
		if r > unicode.MaxASCII {
			return invalid("the host of gitUrl contains non-ASCII characters (possibly a look-alike of another host); use the host's ASCII (xn--) form")
		}
	}
	if ip := net.ParseIP(host); ip != nil {
		return nil
	}
	if len(host) > 253 {
		return invalid("the host of gitUrl is too long")
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return invalid("the host of gitUrl is not a valid host name")
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
				return invalid("the host of gitUrl is not a valid host name")
			}
		}
	}
	return nil
}

// checkPath refuses dot segments, encoded slashes and backslashes, in the
// raw and the decoded path, and returns the escaped path without trailing
// slashes.
func checkPath(u *url.URL) (string, error) {
	raw := u.EscapedPath()
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(raw, "\\") || strings.Contains(lower, "%00") {
		return "", invalid("the path of gitUrl contains encoded slashes, backslashes or NUL; pass the repository's plain https:// URL")
	}
	// An @ after the host is legal but reads as userinfo to people and to
	// naive parsers (https://github.com/@evil.example/x); no Git host needs it.
	if strings.Contains(u.Path, "@") {
		return "", invalid("the path of gitUrl contains '@'; pass the repository's plain https:// URL without a user name or token")
	}
	for _, p := range []string{raw, u.Path} {
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return "", invalid("the path of gitUrl contains '.' or '..' segments; pass the repository's plain https:// URL")
			}
			if d, err := url.PathUnescape(seg); err != nil || d == "." || d == ".." {
				return "", invalid("the path of gitUrl contains '.' or '..' segments; pass the repository's plain https:// URL")
			}
		}
	}
	raw = strings.TrimRight(raw, "/")
	if raw == "" || raw == "/" {
		return "", invalid("gitUrl has no repository path; pass a URL such as https://github.com/org/repo.git")
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	return raw, nil
}

// MaxNameLength bounds derived directory names and display names.
const MaxNameLength = 100

// RepoName derives the workspace directory name from a URL path: the last
// segment, without .git, reduced to [A-Za-z0-9._-].
func RepoName(path string) (string, error) {
	path = strings.TrimRight(path, "/")
	seg := path[strings.LastIndex(path, "/")+1:]
	if d, err := url.PathUnescape(seg); err == nil {
		seg = d
	}
	seg = strings.TrimSuffix(seg, ".git")
	var b strings.Builder
	dash := false
	for _, r := range seg {
		ok := r == '.' || r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimLeft(b.String(), "-")
	if len(name) > MaxNameLength {
		name = name[:MaxNameLength]
	}
	if strings.Trim(name, ".") == "" {
		return "", invalid("cannot derive a directory name from the last segment of gitUrl; pass the repository's URL, ending in its name")
	}
	if strings.HasPrefix(strings.ToLower(name), tmpDirName) {
		return "", invalid("the repository name %q is reserved by the workspace; it cannot be cloned here", name)
	}
	return name, nil
}

// ValidateDisplayName checks the optional display name of a project.
func ValidateDisplayName(name string) error {
	if len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name) {
		return invalid("name must be at most 200 printable characters")
	}
	return nil
}

// ValidateBranch checks a branch name before it reaches go-git.
func ValidateBranch(b string) error {
	if b == "" {
		return nil
	}
	bad := len(b) > 255 || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{")
	for _, r := range b {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			bad = true
		}
	}
	if bad {
		return invalid("branch %q is not a valid branch name", truncate(b, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
