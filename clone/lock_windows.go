//go:build windows

package clone

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

type fileLock struct{ f *os.File }

func tryLock(path string) (*fileLock, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &fileLock{f: f}, true, nil
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		ol := new(windows.Overlapped)
		_ = windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, ol)
		l.f.Close()
	}
}
