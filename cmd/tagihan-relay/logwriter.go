package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter buffers log lines and writes them out every interval (or when
// the buffer fills), so a busy ingest path pays a memory copy per log line
// instead of a write system call. Logs are not the durable record — the
// database is — so a crash may lose the last interval of log lines, never
// an acknowledged delivery.
type logWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newLogWriter(w io.Writer, interval time.Duration) *logWriter {
	lw := &logWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-lw.stop:
				return
			case <-t.C:
				lw.Flush()
			}
		}
	}()
	return lw
}

// Write buffers p (one slog record is one Write).
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// Flush writes out what is buffered.
func (lw *logWriter) Flush() {
	lw.mu.Lock()
	_ = lw.w.Flush()
	lw.mu.Unlock()
}

// Close stops the flusher and flushes. Idempotent.
func (lw *logWriter) Close() {
	lw.once.Do(func() {
		close(lw.stop)
		<-lw.done
		lw.Flush()
	})
}
