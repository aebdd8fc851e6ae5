package gateway

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// accessLog is the gateway's access log: one JSON line per request (see
// [accessEntry.appendJSON]), written to the [logSink] the current config
// names, or nowhere while the config turns the log off. A gateway has one
// for its whole life; reloads only swap its sink.
type accessLog struct {
	sink  atomic.Pointer[logSink]
	lines sync.Pool // of *[]byte, each a line being formatted
}

// on reports whether the log has somewhere to write.
func (a *accessLog) on() bool { return a.sink.Load() != nil }

// write formats e into a pooled buffer and hands the line to the sink.
func (a *accessLog) write(e accessEntry) {
	s := a.sink.Load()
	if s == nil {
		return
	}
	buf, _ := a.lines.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	*buf = e.appendJSON((*buf)[:0])
	s.append(*buf)
	a.lines.Put(buf)
}

// How much a [logSink] buffers: past flushSoon bytes its flusher is woken
// at once rather than at the next tick; past flushNow bytes (the flusher
// has fallen behind a slow output) the request that appends writes the
// buffer out itself.
const (
	flushEvery = 200 * time.Millisecond
	flushSoon  = 64 << 10
	flushNow   = 1 << 20
)

// logSink buffers access log lines and writes them to a file or standard
// output from a goroutine it owns, every [flushEvery] and when it closes.
type logSink struct {
	path   string
	out    io.Writer
	file   *os.File // nil for standard output
	logger *slog.Logger

	// mu guards pending and closed; a request holds it only to copy its
	// line.
	mu      sync.Mutex
	pending []byte
	closed  bool

	// flushMu serialises writes to out and guards spare, the buffer being
	// written.
	flushMu sync.Mutex
	spare   []byte

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// openLogSink opens the access log at path, "-" being standard output, and
// starts its flusher. A file is created if needed and appended to.
func openLogSink(path string, logger *slog.Logger) (*logSink, error) {
	s := &logSink{
		path:    path,
		out:     os.Stdout,
		logger:  logger,
		pending: make([]byte, 0, flushSoon),
		spare:   make([]byte, 0, flushSoon),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		s.out, s.file = f, f
	}
	go s.run()
	return s, nil
}

// append adds one line to the buffer.
func (s *logSink) append(line []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, line...)
	n := len(s.pending)
	s.mu.Unlock()
	if n >= flushNow {
		s.flush()
	} else if n >= flushSoon {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// run flushes the buffer every flushEvery or when kicked, until stop.
func (s *logSink) run() {
	defer close(s.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.kick:
		case <-s.stop:
			return
		}
		s.flush()
	}
}

// flush writes out what is buffered.
func (s *logSink) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	s.pending, s.spare = s.spare[:0], s.pending
	s.mu.Unlock()
	if len(s.spare) == 0 {
		return
	}
	if _, err := s.out.Write(s.spare); err != nil {
		s.logger.Warn("access log lines lost", "path", s.path, "bytes", len(s.spare), "error", err)
	}
}

// close stops the flusher, writes out what is buffered and closes the
// file. Lines written after close are dropped.
func (s *logSink) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.flush()
	if s.file != nil {
		if err := s.file.Close(); err != nil {
			s.logger.Warn("closing the access log", "path", s.path, "error", err)
		}
	}
}

// swapAccessLog makes next the running sink and closes the sink it
// replaces.
func (g *Gateway) swapAccessLog(next *logSink) {
	if old := g.accessLog.sink.Swap(next); old != nil && old != next {
		old.close()
	}
}

// accessLogSink returns the running sink, or nil.
func (g *Gateway) accessLogSink() *logSink {
	return g.accessLog.sink.Load()
}

// closeAccessLog writes out and closes the access log at shutdown.
func (g *Gateway) closeAccessLog() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.swapAccessLog(nil)
}
