// Package routecmp compares sluice's router with julienschmidt/httprouter
// and gin on the same static and parameter route sets and the same
// requests. It holds benchmarks only; run them with
//
//	cd bench && go test -run '^$' -bench . -count 6 ./routecmp/
//
// and read the three routers side by side within one run.
package routecmp
