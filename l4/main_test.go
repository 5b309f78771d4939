package l4

import (
	"os"
	"testing"

	"github.com/sluice-gateway/sluice/core"
)

func TestMain(m *testing.M) {
	// Tests provoke refused and timed-out nodes on purpose; keep the output for failures.
	core.SetLogLevel("error")
	os.Exit(m.Run())
}
