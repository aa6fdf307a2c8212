//go:build unix

package clone

import (
	"os/exec"
	"syscall"
)

// killProcessGroup makes cancellation stop git and the helpers it started
// (git-remote-http, index-pack), not git alone; on Linux git also dies
// with the server (see parentDeathSignal).
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	parentDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
