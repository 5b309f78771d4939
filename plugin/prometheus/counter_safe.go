//go:build race || !(amd64 || arm64)

package prometheus

import "sync/atomic"

// ctr is the atomic twin of counter_fast.go's, for race builds and
// architectures where a plain 64-bit store may tear.
type ctr struct{ v atomic.Uint64 }

func (c *ctr) add(n uint64) { c.v.Add(n) }
func (c *ctr) load() uint64 { return c.v.Load() }
