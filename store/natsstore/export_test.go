package natsstore

// Abandon stops s the way a killed process stops: the connection drops
// without a flush and nothing in flight is finished or released. Close is a
// no-op afterwards.
func Abandon(s *Store) {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.nc.Close()
		s.cancel()
		s.wg.Wait()
	})
}

// SetCrashHook installs the ingest path's crash hook (crash tests' child).
func SetCrashHook(h func(string)) { crashHook = h }
