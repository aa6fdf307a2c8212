//go:build unix

package clone

import (
	"os/exec"
	"syscall"
)

// killProcessGroup makes cancellation stop git and the helpers it started
// (git-remote-http, index-pack), not git alone.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
