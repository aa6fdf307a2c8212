package store

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fernet/fernet-go"
)

// Secret holds a plaintext token or key. It prints as a placeholder under
// every fmt verb (Format), encodes as one (MarshalText), and, held in an
// unexported field of a struct that gets printed, shows only a pointer:
// reflection cannot reach the text. Reveal is the one way out.
type Secret struct{ v *string }

// NewSecret wraps a plaintext.
func NewSecret(plain string) Secret {
	if plain == "" {
		return Secret{}
	}
	return Secret{v: &plain}
}

const redacted = "[redacted]"

func (s Secret) String() string               { return redacted }
func (s Secret) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// IsZero reports whether there is no secret.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// Reveal returns the plaintext, for the places that need it: the HTTP
// authorization of a network operation, hashing and encryption.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// Box encrypts and decrypts credential tokens with Fernet. The first key
// encrypts; every key decrypts, so keys can be rotated without downtime.
type Box struct {
	keys []*fernet.Key
}

// NewBox returns a Box for the given keys, the first being the encrypting one.
func NewBox(keys []*fernet.Key) (*Box, error) {
	if len(keys) == 0 {
		return nil, Errorf(EINVALID, "no encryption key is configured; run `aifactory-mcp init` or set AIFACTORY_SECRET_KEYS")
	}
	return &Box{keys: keys}, nil
}

// ParseKeys parses Fernet keys separated by commas or newlines; blank lines
// and lines starting with # are ignored.
func ParseKeys(s string) ([]*fernet.Key, error) {
	var keys []*fernet.Key
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "#") {
			continue
		}
		k, err := fernet.DecodeKey(f)
		if err != nil {
			// Never echo the key material, only its position.
			return nil, Errorf(EINVALID, "encryption key %d is not a valid Fernet key (32 bytes, URL-safe base64); generate one with `aifactory-mcp init`", i+1)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// LoadKeyFile reads Fernet keys from a file, one a line. A file readable by
// group or others is refused.
func LoadKeyFile(path string) ([]*fernet.Key, error) {
	if err := CheckPrivateFile(path); err != nil {
		return nil, err
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, Errorf(ENOTFOUND, "the encryption key file %s does not exist; run `aifactory-mcp init` or set AIFACTORY_SECRET_KEYS", path)
		}
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return ParseKeys(string(buf))
}

// CreateKeyFile writes a new Fernet key to path with mode 0600, unless the
// file exists already. It reports whether it created the file.
func CreateKeyFile(path string) (bool, error) {
	var k fernet.Key
	if err := k.Generate(); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if os.IsExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, k.Encode())
	if err := w.Flush(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// Encrypt returns the Fernet token for plaintext under the first key.
func (b *Box) Encrypt(plaintext Secret) (string, error) {
	tok, err := fernet.EncryptAndSign([]byte(plaintext.Reveal()), b.keys[0])
	if err != nil {
		return "", fmt.Errorf("encrypt token: %w", err)
	}
	return string(tok), nil
}

// Decrypt returns the plaintext of a Fernet token, or ok=false when no key
// can decrypt it. fernet-go signals that with nil, not an error.
func (b *Box) Decrypt(token string) (Secret, bool) {
	msg := fernet.VerifyAndDecrypt([]byte(token), time.Duration(0), b.keys)
	if msg == nil {
		return Secret{}, false
	}
	return NewSecret(string(msg)), true
}
