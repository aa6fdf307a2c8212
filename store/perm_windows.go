//go:build windows

package store

// CheckPrivateFile is a no-op on Windows, where files under the user's
// profile are private by ACL rather than by mode bits.
func CheckPrivateFile(path string) error { return nil }
