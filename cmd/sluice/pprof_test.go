package main

import (
	"net/http"
	"strings"
	"testing"
)

// -pprof serves Go's profiles on a loopback address only.
func TestPprofListener(t *testing.T) {
	if _, err := startPprof("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("a non-loopback address: %v", err)
	}
	if _, err := startPprof("localhost"); err == nil {
		t.Fatal("an address without a port was accepted")
	}
	stop, addr, err := startPprofAddr("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
