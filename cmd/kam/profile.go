package main

import (
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// profiles starts a CPU profile into cpu and an execution trace into tr,
// and arranges a heap profile into mem (any may be ""); stop writes them.
// They are for performance work: `go tool pprof FILE`, `go tool trace FILE`.
func profiles(cpu, mem, tr string) (stop func(), err error) {
	var cpuFile *os.File
	if cpu != "" {
		if cpuFile, err = os.Create(cpu); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(cpuFile); err != nil {
			cpuFile.Close()
			return nil, err
		}
	}
	var traceFile *os.File
	if tr != "" {
		if traceFile, err = os.Create(tr); err == nil {
			err = trace.Start(traceFile)
		}
		if err != nil {
			if cpuFile != nil {
				pprof.StopCPUProfile()
				cpuFile.Close()
			}
			return nil, err
		}
	}
	return func() {
		if traceFile != nil {
			trace.Stop()
			traceFile.Close()
		}
		if cpuFile != nil {
			pprof.StopCPUProfile()
			cpuFile.Close()
		}
		if mem != "" {
			if f, err := os.Create(mem); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}, nil
}
