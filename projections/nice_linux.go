package projections

import (
	"runtime"
	"syscall"
)

// lowerPriority pins the calling goroutine to its thread and lowers that
// thread's scheduling priority by level (nice, up to 19), so that the
// operating system runs the HTTP handlers' threads first when both are
// ready. The thread ends with the goroutine, which never unlocks it: it
// serves no other goroutine at that priority.
func lowerPriority(level int) {
	if level <= 0 {
		return
	}
	runtime.LockOSThread()
	tid := syscall.Gettid()
	// Linux's getpriority answers 20 - nice.
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	// Lowering one's priority needs no privilege; a failure leaves the
	// thread as it was, which costs latency, not correctness.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-cur+level, 19))
}
