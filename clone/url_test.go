package clone

import (
	"strings"
	"testing"

	"github.com/aifactory/aifactory-mcp/store"
)

func TestParseURL_OK(t *testing.T) {
	cases := []struct{ in, clean, key, name, hostport string }{
		{"https://github.com/org/app.git", "https://github.com/org/app.git", "github.com/org/app", "app", "github.com"},
		{"https://GitHub.COM/org/app/", "https://github.com/org/app", "github.com/org/app", "app", "github.com"},
		{"https://github.com:443/org/app", "https://github.com/org/app", "github.com/org/app", "app", "github.com"},
		{"https://git.example.com:8443/a/b/c.git", "https://git.example.com:8443/a/b/c.git", "git.example.com:8443/a/b/c", "c", "git.example.com:8443"},
		{"https://h/org/My%20Repo.git", "https://h/org/My%20Repo.git", "h/org/My%20Repo", "My-Repo", "h"},
		{"https://[::1]:9000/x/.github", "https://[::1]:9000/x/.github", "[::1]:9000/x/.github", ".github", "[::1]:9000"},
	}
	for _, tc := range cases {
		u, err := ParseURL(tc.in, false)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if u.Clean != tc.clean || u.Key != tc.key || u.Name != tc.name || u.HostPort != tc.hostport {
			t.Errorf("%s: got clean=%s key=%s name=%s hostport=%s", tc.in, u.Clean, u.Key, u.Name, u.HostPort)
		}
	}
}

// hostileURLs are refused by the URL policy before anything is written.
var hostileURLs = []string{
	"",
	"file:///etc/passwd",
	"file://localhost/srv/repo.git",
	"ext::sh -c touch% /tmp/pwned",
	"ext::sh",
	"ssh://git@github.com/org/app.git",
	"git+ssh://github.com/org/app.git",
	"git@github.com:org/app.git",
	"github.com:org/app.git",
	"git://github.com/org/app.git",
	"http://github.com/org/app.git",
	"https://user:ghp_secret@github.com/org/app.git",
	"https://ghp_secret@github.com/org/app.git",
	"-uhttps://github.com/org/app.git",
	"--upload-pack=touch /tmp/x",
	"https://github.com/org/../../etc.git",
	"https://github.com/org/%2e%2e/x.git",
	"https://github.com/org/..%2f..%2fetc",
	"https://github.com/org/app%00.git",
	"https://github.com/org/a\x00pp.git",
	"https://github.com/org/a\npp.git",
	"https://github.com/org/a pp.git",
	"https://gіthub.com/org/app.git", // Cyrillic і
	"https://github.com/" + strings.Repeat("a", 10000),
	"https://github.com/org/app.git?x=1",
	"https://github.com/org/app.git#frag",
	"https:///org/app.git",
	"https://github.com",
	"https://github.com/",
	"https://github.com/org/..",
	"https://github.com/org/.git",
	"https://github.com/org/...",
	"https://github.com:0/org/app",
	"https://github.com:99999/org/app",
	"https://github.com/org/.aifactory-tmp",
	"javascript:alert(1)",
	"https://exa mple.com/x",
	"https://-bad.example.com/x",
	"https://0/@0",
	"https://github.com/@evil.example/app.git",
	"https://github.com/org/%40app.git",
}

func TestParseURL_Hostile(t *testing.T) {
	for _, in := range hostileURLs {
		_, err := ParseURL(in, false)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted", in)
			continue
		}
		if store.ErrorCode(err) != store.EINVALID {
			t.Errorf("ParseURL(%q) code %s", in, store.ErrorCode(err))
		}
		if strings.Contains(err.Error(), "ghp_secret") {
			t.Errorf("ParseURL(%q) echoes the secret: %v", in, err)
		}
	}
	if _, err := ParseURL("http://127.0.0.1:1/x.git", true); err != nil {
		t.Errorf("http refused although allowed: %v", err)
	}
}

func TestParseURL_Messages(t *testing.T) {
	for in, want := range map[string]string{
		"git@github.com:org/app.git":         "https://",
		"https://u:t@github.com/org/app.git": "gitCredentialId",
		"file:///x":                          "path",
		"http://github.com/x":                "https://",
	} {
		_, err := ParseURL(in, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v, want a message mentioning %q", in, err, want)
		}
	}
}

func TestCheckHost(t *testing.T) {
	p := &NetPolicy{AllowPrivateNetworks: true}
	for _, h := range []string{"169.254.169.254", "fe80::1", "100.100.100.200", "fd00:ec2::254", "0.0.0.0"} {
		if p.CheckHost(h) == nil {
			t.Errorf("CheckHost(%s) allowed", h)
		}
	}
	if err := p.CheckHost("127.0.0.1"); err != nil {
		t.Errorf("loopback refused on a laptop: %v", err)
	}
	strict := &NetPolicy{AllowedHosts: []string{"github.com", "*.corp.example"}}
	for h, ok := range map[string]bool{"github.com": true, "git.corp.example": true, "corp.example": false, "evil.com": false, "10.0.0.1": false, "127.0.0.1": false} {
		if (strict.CheckHost(h) == nil) != ok {
			t.Errorf("strict CheckHost(%s) allowed=%v, want %v", h, !ok, ok)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range append(hostileURLs, "https://github.com/org/app.git", "https://h:8443/a/b.git/") {
		if len(s) <= MaxURLLength { // huge seeds only slow the mutator down
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s, false)
		if err != nil {
			if store.ErrorCode(err) != store.EINVALID {
				t.Fatalf("code %s", store.ErrorCode(err))
			}
			return
		}
		if !strings.HasPrefix(u.Clean, "https://") || strings.Contains(u.Clean, "@") {
			t.Fatalf("accepted %q as %q", s, u.Clean)
		}
		if u.Name == "" || u.Name == "." || u.Name == ".." || strings.ContainsAny(u.Name, "/\\\x00") {
			t.Fatalf("bad name %q from %q", u.Name, s)
		}
		again, err := ParseURL(u.Clean, false)
		if err != nil || again.Key != u.Key {
			t.Fatalf("clean URL %q does not round-trip: %v", u.Clean, err)
		}
	})
}

func FuzzRepoName(f *testing.F) {
	for _, s := range []string{"/org/app.git", "/a/..", "/a/%2e%2e", "/x/.github", "/x/-rf", "/x/a b", "/x/ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") {
			return
		}
		name, err := RepoName(path)
		if err != nil {
			return
		}
		if strings.Trim(name, ".") == "" || strings.HasPrefix(name, "-") || len(name) > MaxNameLength {
			t.Fatalf("bad name %q", name)
		}
		for _, r := range name {
			if !(r == '.' || r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
				t.Fatalf("name %q has %q", name, r)
			}
		}
	})
}

func TestParseProgressLine(t *testing.T) {
	for in, want := range map[string]Progress{
		"Counting objects:  45% (9/20)":                 {PhaseCounting, 45, "Counting objects:  45% (9/20)"},
		"Compressing objects: 100% (5/5), done.":        {PhaseCompressing, 100, "Compressing objects: 100% (5/5), done."},
		"Enumerating objects: 12, done.":                {PhaseEnumerating, -1, "Enumerating objects: 12, done."},
		"remote: Total 3 (delta 0), reused 0 (delta 0)": {},
	} {
		got, ok := ParseProgressLine(in)
		if ok != (want.Phase != "") || got != want {
			t.Errorf("ParseProgressLine(%q) = %+v, %v", in, got, ok)
		}
	}
}

func FuzzParseProgressLine(f *testing.F) {
	f.Add("Counting objects:  45% (9/20)")
	f.Add("Receiving objects: 999% x")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParseProgressLine(s)
		if ok && (p.Percent < -1 || p.Percent > 100) {
			t.Fatalf("percent %d", p.Percent)
		}
	})
}

func TestParseGitVersion(t *testing.T) {
	for in, want := range map[string][2]int{"git version 2.39.5\n": {2, 39}, "git version 2.31.0.windows.1": {2, 31}, "git version 3.0": {3, 0}} {
		if got, ok := parseGitVersion(in); !ok || got != want {
			t.Errorf("parseGitVersion(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "git", "git version", "git version x.y", "hg version 2.39", "git version 2"} {
		if _, ok := parseGitVersion(in); ok {
			t.Errorf("parseGitVersion(%q) accepted", in)
		}
	}
}

func FuzzParseGitVersion(f *testing.F) {
	for _, s := range []string{"git version 2.39.5", "git version 2.31.0.windows.1", "git version", "git version 99999999999999999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseGitVersion(s)
		if ok && (v[0] < 0 || v[1] < 0 || !strings.HasPrefix(s, "git version ") && !strings.HasPrefix(strings.TrimSpace(s), "git")) {
			t.Fatalf("parseGitVersion(%q) = %v", s, v)
		}
	})
}
