// Package codeccmp compares sluice's codec with net/http and fasthttp on the
// same inputs (the files in ../../codec/testdata/bench): the benchmarks are
// the product; run them with
//
//	cd bench && go test -run '^$' -bench . -benchmem ./codeccmp/
//
// Each input is parsed by all three in one run so that the ratios, not the
// drifting absolute figures, are what gets compared.
package codeccmp
