package engine

import (
	"os"
	"testing"
)

// The log is read oldest first, across a rotation, and a line still
// being written is left for the next read.
func TestEvents(t *testing.T) {
	root := t.TempDir()
	appendEvent(root, Event{ID: "a", Name: "one", Status: EventHealthStatus, HealthStatus: "starting"})
	if err := os.Rename(eventsPath(root), eventsPath(root)+".1"); err != nil {
		t.Fatal(err)
	}
	appendEvent(root, Event{ID: "b", Name: "two", Status: EventHealthStatus, HealthStatus: "healthy"})
	f, err := os.OpenFile(eventsPath(root), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"ID":"c","Name":"thr`) // half a line
	f.Close()
	var got []string
	if err := Events(root, EventWindow{}, false, func(ev Event) bool {
		if ev.Type != "container" || ev.Time.IsZero() {
			t.Errorf("event %+v: want type container and a time", ev)
		}
		got = append(got, ev.ID+":"+ev.HealthStatus)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "a:starting" || got[1] != "b:healthy" {
		t.Errorf("events %v, want a:starting b:healthy", got)
	}
	// Rotated past eventsMax: the new event starts a new file.
	big := make([]byte, eventsMax+1)
	if err := os.WriteFile(eventsPath(root), big, 0o600); err != nil {
		t.Fatal(err)
	}
	appendEvent(root, Event{ID: "d", Status: EventHealthStatus})
	got = nil
	Events(root, EventWindow{}, false, func(ev Event) bool { got = append(got, ev.ID); return true })
	if len(got) != 1 || got[0] != "d" {
		t.Errorf("after rotation: %v, want d (the old file's zeros are no events)", got)
	}
	// A writer killed mid-line: its partial line is skipped, the next
	// event is whole.
	f, err = os.OpenFile(eventsPath(root), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"ID":"partial","Sta`)
	f.Close()
	appendEvent(root, Event{ID: "e", Status: EventDied})
	got = nil
	Events(root, EventWindow{}, false, func(ev Event) bool { got = append(got, ev.ID); return true })
	if len(got) != 2 || got[0] != "d" || got[1] != "e" {
		t.Errorf("after a partial line: %v, want d e", got)
	}
}

// BenchmarkAppendEvent: the cost of one recorded event (flock, stat,
// append), paid beside each started container and at its exit.
func BenchmarkAppendEvent(b *testing.B) {
	root := b.TempDir()
	for i := 0; i < b.N; i++ {
		appendEvent(root, Event{ID: "0123456789abcdef", Name: "bench", Image: "busybox", Status: EventStart})
	}
}
