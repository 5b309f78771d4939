package jwtauth

// SetVerifiedEntries sets how many verified tokens a build remembers (0:
// none, every request verifies), returning the old value.
func SetVerifiedEntries(n int) int {
	old := verifiedEntries
	verifiedEntries = n
	return old
}

// SetClock fixes the clock exp and nbf are checked against until the
// returned func restores it.
func SetClock(unix int64) (restore func()) {
	old := unixNow
	unixNow = func() int64 { return unix }
	return func() { unixNow = old }
}
