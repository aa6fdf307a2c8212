package clone

import "syscall"

// parentDeathSignal kills git when the server process dies (kill -9
// included), so no orphan keeps writing into the temporary directory that
// the next start sweeps.
func parentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
