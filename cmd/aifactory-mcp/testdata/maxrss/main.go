//go:build unix

// Command maxrss runs a command and prints its peak resident memory in KiB
// to stderr as "maxrss_kib=N", for BenchmarkClone. It exists because a
// process started straight from a Go program reports at least that
// program's size: Linux carries the parent's high-water mark across a
// vfork+exec into ru_maxrss, and this launcher is small.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(127)
	}
	kib := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if runtime.GOOS == "darwin" {
		kib /= 1024 // bytes there
	}
	fmt.Fprintf(os.Stderr, "maxrss_kib=%d\n", kib)
	os.Exit(cmd.ProcessState.ExitCode())
}
