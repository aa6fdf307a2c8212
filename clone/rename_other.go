//go:build !linux

package clone

import "os"

func renameNoReplace(src, dst string) error {
	if exists(dst) {
		return os.ErrExist
	}
	return os.Rename(src, dst)
}
