//go:build !windows

package store

import (
	"fmt"
	"os"
)

// CheckPrivateFile refuses a secret file that group or others can read.
func CheckPrivateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // the caller reports a missing file in its own words
		}
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Errorf(EFORBIDDEN, "%s is readable by other users; run `chmod 600 %s` and try again", path, path)
	}
	return nil
}
