//go:build !unix

package store

import (
	"os"
	"time"
)

// lockShared is a no-op where flock does not exist; bbolt's own lock,
// taken right after the check, still keeps two writers apart.
func lockShared(*os.File, time.Duration) error { return nil }

// mapFile does not map: the check reads with ReadAt.
func mapFile(*os.File, int64) ([]byte, func(), error) { return nil, func() {}, nil }
