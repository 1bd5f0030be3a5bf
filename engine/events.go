package engine

// The event log: podman's `events` (file backend) for what urun records
// so far, the health_status of each health check. One JSON line per
// event in STATEROOT/events.jsonl, appended under a flock; past 1 MiB
// the file moves to events.jsonl.1 (the one before is dropped), as
// podman caps its events file (events_logfile_max_size, 1 MB).

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Event is one line of the log, with podman's JSON names (`podman
// events --format json`).
type Event struct {
	ID           string            `json:"ID"`
	Image        string            `json:"Image"`
	Name         string            `json:"Name"`
	Status       string            `json:"Status"`
	Time         time.Time         `json:"Time"`
	Type         string            `json:"Type"`
	HealthStatus string            `json:"health_status,omitempty"`
	Attributes   map[string]string `json:"Attributes"`
}

// EventHealthStatus is the event of a health check's result.
const EventHealthStatus = "health_status"

// eventsMax is the size past which the log is rotated.
const eventsMax = 1 << 20

func eventsPath(root string) string { return filepath.Join(root, "events.jsonl") }

// appendEvent adds ev to root's log. An event that cannot be written is
// dropped: the log must not fail what it records.
func appendEvent(root string, ev Event) {
	if ev.Attributes == nil {
		ev.Attributes = map[string]string{}
	}
	ev.Type, ev.Time = "container", time.Now().UTC()
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	lock, err := os.OpenFile(filepath.Join(root, "events.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX) != nil {
		return
	}
	p := eventsPath(root)
	if fi, err := os.Stat(p); err == nil && fi.Size() > eventsMax {
		os.Rename(p, p+".1")
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(line, '\n'))
}

// Events calls each for the events in root's log, oldest first; with
// follow it then waits for new ones until each returns false.
func Events(root string, follow bool, each func(Event) bool) error {
	p := eventsPath(root)
	if old, err := os.Open(p + ".1"); err == nil {
		_, more, err := readEvents(old, 0, each)
		old.Close()
		if err != nil || !more {
			return err
		}
	}
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var off int64
	for {
		if f == nil {
			var err error
			if f, err = os.Open(p); errors.Is(err, os.ErrNotExist) {
				f = nil
			} else if err != nil {
				return err
			}
		}
		if f != nil {
			n, more, err := readEvents(f, off, each)
			if err != nil || !more {
				return err
			}
			off = n
		}
		if !follow {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
		if f != nil {
			// Rotated: read the rest of the old file, then the new one.
			if fi, err := os.Stat(p); err == nil {
				if cur, err := f.Stat(); err == nil && !os.SameFile(fi, cur) {
					if _, more, err := readEvents(f, off, each); err != nil || !more {
						return err
					}
					f.Close()
					f, off = nil, 0
				}
			}
		}
	}
}

// readEvents calls each for the whole lines of f from off on (a line
// being written is left for the next read) and returns the offset after
// the last one.
func readEvents(f *os.File, off int64, each func(Event) bool) (int64, bool, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<62))
	if err != nil {
		return off, false, err
	}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return off, true, nil
		}
		line := b[:i]
		b, off = b[i+1:], off+int64(i)+1
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		if !each(ev) {
			return off, false, nil
		}
	}
}
