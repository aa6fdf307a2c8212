//go:build unix && !linux

package clone

import "syscall"

// parentDeathSignal: outside Linux there is none; git fails on its own
// once the relay it reads from is gone with the server.
func parentDeathSignal(*syscall.SysProcAttr) {}
