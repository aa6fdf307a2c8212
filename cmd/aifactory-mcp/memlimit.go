package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles hold a container's memory limit: cgroup v2, then v1,
// as a container sees its own cgroup.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// memoryLimitShare is the part of the container's limit the Go heap is
// held under; the rest is for git's processes, stacks and the binary.
const memoryLimitShare = 0.8

// applyContainerMemoryLimit gives the Go runtime a soft memory limit of 80%
// of the container's, unless GOMEMLIMIT is set: near it the garbage
// collector works harder instead of letting a clone's heap reach the
// limit, where the pod is OOM-killed. It returns the limit set, or 0.
func applyContainerMemoryLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := containerMemoryLimit(cgroupMemoryFiles)
	if limit == 0 {
		return 0
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft
}

// containerMemoryLimit reads the first of files that holds a limit, in
// bytes; 0 when none does ("max", cgroup v1's near-2^63 "unlimited", or no
// cgroup at all).
func containerMemoryLimit(files []string) int64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0
		}
		return v
	}
	return 0
}
