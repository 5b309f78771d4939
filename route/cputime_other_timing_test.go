//go:build !linux

package route

import "time"

// Elsewhere the CPU-time metrics read zero; wall time still stands.
func threadCPU() time.Duration  { return 0 }
func processCPU() time.Duration { return 0 }
