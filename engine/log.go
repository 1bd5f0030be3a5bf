package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// logWriter writes the container's output as podman's k8s-file log:
// "TIMESTAMP STREAM F|P TEXT" per line (P: a partial line), rotating the
// file to .1 when it exceeds maxLog. Each stream's reader writes its own
// lines under mu; close stops them writing, so a reader that outlives
// the wait (a process outside the container still holds a pipe) finds
// the log closed instead of writing to a closed file.
type logWriter struct {
	path string
	// done gets one value per stream that ended.
	done chan struct{}
	n    int
	ws   []*os.File

	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
}

const maxLog = 10 << 20

// logWait is how long close waits for a stream whose pipe a process
// outside the container still holds.
const logWait = 2 * time.Second

func openLog(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the container log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening the container log: %w", err)
	}
	return &logWriter{path: path, f: f, size: st.Size(), done: make(chan struct{}, 2)}, nil
}

// pipes returns the write ends the container's stdout and stderr get.
func (l *logWriter) pipes() (stdout, stderr *os.File, err error) {
	return l.openPipes(func(r *os.File, _ int, stream string) { l.copy(r, stream) })
}

// teePipes is pipes for a kept container in the foreground: what it
// writes goes to out and errOut as it comes, and to the log by line
// (docker and podman log a foreground container too).
func (l *logWriter) teePipes(out, errOut io.Writer) (stdout, stderr *os.File, err error) {
	outs := [2]io.Writer{out, errOut}
	return l.openPipes(func(r *os.File, i int, stream string) { l.copyTee(r, stream, outs[i]) })
}

// openPipes makes the stdout and stderr pipes, each read end copied by
// copyOut (its index and stream name) in a goroutine of its own.
func (l *logWriter) openPipes(copyOut func(r *os.File, i int, stream string)) (stdout, stderr *os.File, err error) {
	var ws [2]*os.File
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			for _, w := range ws[:i] {
				w.Close()
			}
			return nil, nil, err
		}
		ws[i] = w
		l.n++
		go copyOut(r, i, stream)
	}
	l.ws = ws[:]
	return ws[0], ws[1], nil
}

// copyTee passes r on to out unbuffered (a prompt without a newline
// shows at once) and logs it line by line until it ends.
func (l *logWriter) copyTee(r *os.File, stream string, out io.Writer) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out.Write(buf[:n])
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				l.write(stream+" F", pending[:i])
				pending = pending[i+1:]
			}
			if len(pending) >= 16<<10 {
				l.write(stream+" P", pending)
				pending = pending[:0]
			}
		}
		if err != nil {
			if len(pending) > 0 {
				l.write(stream+" P", pending)
			}
			l.done <- struct{}{}
			return
		}
	}
}

// copy logs stream r line by line until it ends.
func (l *logWriter) copy(r *os.File, stream string) {
	defer r.Close()
	// conmon's buffer size: a longer line is logged in parts (P), as
	// the format allows; 2 streams × 16 KiB were a fifth of a shared
	// supervisor's heap per container.
	br := bufio.NewReaderSize(r, 8<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			tag := "F"
			if line[len(line)-1] != '\n' {
				tag = "P"
			} else {
				line = line[:len(line)-1]
			}
			l.write(stream+" "+tag, line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			l.done <- struct{}{}
			return
		}
	}
}

func (l *logWriter) write(tag string, text []byte) {
	s := time.Now().UTC().Format(time.RFC3339Nano) + " " + tag + " " + string(text) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.f == nil {
		return
	}
	if l.size+int64(len(s)) > maxLog {
		l.f.Close()
		os.Rename(l.path, l.path+".1")
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			l.f = nil
			return
		}
		l.f, l.size = f, 0
	}
	n, _ := l.f.WriteString(s)
	l.size += int64(n)
}

// close waits until both streams ended (the container and everything it
// started closed them), at most logWait each, then closes the log.
func (l *logWriter) close() {
	l.closeWriters()
	for i := 0; i < l.n; i++ {
		select {
		case <-l.done:
		case <-time.After(logWait):
			// A process outside the container still holds a pipe.
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f != nil {
		l.f.Close()
	}
}

// closeWriters drops our copies of the pipes' write ends: the container
// holds its own, and the streams end when it closes them.
func (l *logWriter) closeWriters() {
	for _, w := range l.ws {
		w.Close()
	}
}
