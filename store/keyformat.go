package store

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// An acw_ key is "acw_" + 30 random base62 characters + a 6-character base62
// CRC-32 of those 30. The checksum tells a mistyped key from an unknown one
// without a database lookup; the 30 random characters carry ~178 bits.
const (
	KeyPrefix      = "acw_"
	keyRandomLen   = 30
	keyChecksumLen = 6
	KeyLen         = len(KeyPrefix) + keyRandomLen + keyChecksumLen
	keyDisplayLen  = len(KeyPrefix) + 8
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Scopes a key may carry.
const (
	ScopeRead         = "mcp:read"
	ScopeProjectWrite = "project:write"
	ScopeAll          = "*"
)

// ValidScopes is the fixed set of scopes, in display order.
var ValidScopes = []string{ScopeRead, ScopeProjectWrite, ScopeAll}

// GenerateKey returns a new random acw_ key.
func GenerateKey() (string, error) {
	var b strings.Builder
	b.WriteString(KeyPrefix)
	max := big.NewInt(int64(len(base62)))
	random := make([]byte, keyRandomLen)
	for i := range random {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		random[i] = base62[n.Int64()]
	}
	b.Write(random)
	b.WriteString(keyChecksum(random))
	return b.String(), nil
}

func keyChecksum(random []byte) string {
	n := crc32.ChecksumIEEE(random)
	out := make([]byte, keyChecksumLen)
	for i := keyChecksumLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out)
}

// ParseKey checks the shape and checksum of an acw_ key. Its errors never
// repeat the key.
func ParseKey(s string) error {
	if !strings.HasPrefix(s, KeyPrefix) {
		return Errorf(EUNAUTHORIZED, "the MCP key does not start with %q; mint one with `aifactory-mcp key create --org ORG --name NAME --scope mcp:read --scope project:write`", KeyPrefix)
	}
	if len(s) != KeyLen {
		return Errorf(EUNAUTHORIZED, "the MCP key has the wrong length (it may be truncated); copy it again or mint a new one with `aifactory-mcp key create`")
	}
	body := s[len(KeyPrefix):]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return Errorf(EUNAUTHORIZED, "the MCP key contains characters a key never has; copy it again or mint a new one with `aifactory-mcp key create`")
		}
	}
	if keyChecksum([]byte(body[:keyRandomLen])) != body[keyRandomLen:] {
		return Errorf(EUNAUTHORIZED, "the MCP key fails its checksum (it was mistyped or altered); copy it again or mint a new one with `aifactory-mcp key create`")
	}
	return nil
}

// hashKey is the stored form of a key: keys are high-entropy, so a single
// SHA-256 is enough and lookups stay fast.
func hashKey(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ValidateScopes refuses unknown and empty scope lists and removes duplicates.
func ValidateScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, Errorf(EINVALID, "a key needs at least one scope; pass --scope with one of %s", strings.Join(ValidScopes, ", "))
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		ok := false
		for _, v := range ValidScopes {
			if s == v {
				ok = true
			}
		}
		if !ok {
			return nil, Errorf(EINVALID, "unknown scope %q; valid scopes are %s", s, strings.Join(ValidScopes, ", "))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}
