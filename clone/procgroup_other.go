//go:build !unix

package clone

import "os/exec"

// killProcessGroup: elsewhere, cancellation kills git itself; its helpers
// end when their pipes close.
func killProcessGroup(*exec.Cmd) {}
