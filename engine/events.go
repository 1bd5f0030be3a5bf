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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// Container lifecycle events, with podman's names.
const (
	EventStart  = "start"
	EventDied   = "died"
	EventStop   = "stop"
	EventKill   = "kill"
	EventRemove = "remove"
	EventRename = "rename"
)

// RecordEvent adds a container event for st (its id, name and image)
// to root's log; attrs are extra attributes (exitCode, signal...).
func RecordEvent(root, id, name, image, status string, attrs map[string]string) {
	appendEvent(root, Event{ID: id, Name: name, Image: image, Status: status, Attributes: attrs})
}

// eventsMax is the size past which the log is rotated.
const eventsMax = 1 << 20

func eventsPath(root string) string { return filepath.Join(root, "events.jsonl") }

// appendEvent adds ev to root's log. An event that cannot be written is
// dropped: the log must not fail what it records.
func appendEvent(root string, ev Event) {
	if ev.Attributes == nil {
		ev.Attributes = map[string]string{}
	}
	if ev.Type == "" {
		ev.Type = "container"
	}
	ev.Time = time.Now().UTC()
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
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// A writer killed mid-line (kill -9) left a partial line: end it, so
	// that it alone is unreadable (and skipped), not this event too.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil || last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	f.Write(append(line, '\n'))
}

// EventWindow bounds what Events reads: events before Since are skipped;
// with Until set, reading ends at the first event after it (or, when
// following, once the clock passes it), as docker's --since/--until.
type EventWindow struct {
	Since, Until time.Time
}

// Events calls each for the events in root's log within w, oldest first;
// with follow it then waits for new ones until each returns false (or
// w.Until has passed).
func Events(root string, w EventWindow, follow bool, each func(Event) bool) error {
	inner := each
	each = func(ev Event) bool {
		if !w.Since.IsZero() && ev.Time.Before(w.Since) {
			return true
		}
		if !w.Until.IsZero() && ev.Time.After(w.Until) {
			return false
		}
		return inner(ev)
	}
	return events(root, follow, func() bool { return !w.Until.IsZero() && time.Now().After(w.Until) }, each)
}

// ParseEventTime reads a --since/--until value as docker does: RFC3339
// (with or without zone or seconds, or a date), a unix timestamp with
// optional fraction, or a duration (10m, 1h30m) back from now.
func ParseEventTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(s, "."); true {
		if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
			var ns int64
			if ok {
				f := (frac + "000000000")[:9]
				if ns, err = strconv.ParseInt(f, 10, 64); err != nil || strings.TrimLeft(frac, "0123456789") != "" {
					return time.Time{}, fmt.Errorf("%q: not a unix timestamp, RFC3339 time or duration (e.g. 10m)", s)
				}
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: not a unix timestamp, RFC3339 time or duration (e.g. 10m)", s)
}

func events(root string, follow bool, past func() bool, each func(Event) bool) error {
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
		if !follow || past() {
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
