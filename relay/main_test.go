package relay_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind
// (dispatcher claimers and workers, retention loops, the store's writer,
// HTTP connections). It serves package relay's tests too: both are one
// test binary.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
