package batchlog

import "sync"

// Kept is a plugin instance's logger as kept across config snapshots
// (plugin.Build.Keep, which keys it by the instance's config): a change of
// plugin metadata, which the instance also reads, replaces the logger (the
// old one's goroutine ends once idle).
type Kept struct {
	mu   sync.Mutex
	meta string
	l    *Logger
}

// Get returns the kept logger for meta, making one with mk when there is
// none or the metadata changed.
func (k *Kept) Get(meta string, mk func() *Logger) *Logger {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.l == nil || k.meta != meta {
		k.l, k.meta = mk(), meta
	}
	return k.l
}
