package clone

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace moves src to dst atomically, failing if dst exists, so a
// clone never lands on a directory that appeared while it ran.
func renameNoReplace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		if exists(dst) {
			return os.ErrExist
		}
		return os.Rename(src, dst)
	}
	if errors.Is(err, unix.EEXIST) {
		return os.ErrExist
	}
	return err
}
