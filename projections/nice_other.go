//go:build !linux

package projections

// lowerPriority does nothing where threads' priorities are not set.
func lowerPriority(level int) {}
