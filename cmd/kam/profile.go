package main

import (
	"os"
	"runtime/pprof"
)

// profiles starts a CPU profile into cpu and arranges a heap profile into
// mem (either may be ""); stop writes them. They are for performance work:
// `go tool pprof FILE`.
func profiles(cpu, mem string) (stop func(), err error) {
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
	return func() {
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
