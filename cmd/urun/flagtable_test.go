package main

import (
	"os"
	"testing"
)

// docs/RUN-FLAGS.md is generated from run's flag set: it must not drift.
func TestRunFlagTableCurrent(t *testing.T) {
	want := flagTable("run", newRunCommand("run").flags)
	got, err := os.ReadFile("../../docs/RUN-FLAGS.md")
	if err != nil || string(got) != want {
		t.Fatalf("docs/RUN-FLAGS.md is not what run's flags say (err %v): regenerate it with `make flag-table`", err)
	}
}

// Every refused flag is registered with its reason, and refusing one is
// one line naming it.
func TestRefusedRunFlags(t *testing.T) {
	fs := newRunCommand("run").flags
	for name := range refusedRunFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("--%s refused but not registered", name)
		}
	}
	if err := fs.Parse([]string{"--sig-proxy=false", "--annotation", "k=v", "img"}); err != nil {
		t.Fatal(err)
	}
	err := refusedRunFlag(fs)
	if err == nil || err.Error() != "--annotation is not supported by urun: "+refusedRunFlags["annotation"] {
		t.Fatalf("got %v", err)
	}
}
