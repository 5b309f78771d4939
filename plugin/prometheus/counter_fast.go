//go:build !race && (amd64 || arm64)

package prometheus

import "sync/atomic"

// ctr is a counter that only its loop writes, with a plain add: a locked
// add on every request costs about as much as the rest of the hook. A
// scrape's load may see a value a few requests old; a word-sized load on
// these architectures never tears, and the Go memory model has racy
// word-sized reads observe some write. Race builds use the atomic twin
// (counter_safe.go), so -race checks everything else.
type ctr struct{ v uint64 }

func (c *ctr) add(n uint64) { c.v += n }
func (c *ctr) load() uint64 { return atomic.LoadUint64(&c.v) }
