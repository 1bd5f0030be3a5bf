package idmap

import (
	"strings"
	"testing"
)

func TestFreeStart(t *testing.T) {
	parse := func(s string) []Entry {
		es, err := ParseSubIDs(strings.NewReader(s), "test")
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	for _, c := range []struct {
		name     string
		uid, gid string
		want     uint32
		ok       bool
	}{
		{"empty files", "", "", 100000, true},
		{"debian's first user", "alice:100000:65536\n", "alice:100000:65536\n", 165536, true},
		{"gids higher", "alice:100000:65536\n", "alice:100000:65536\nbob:165536:65536\n", 231072, true},
		{"unaligned end", "x:100000:1000\n", "", 165536, true},
		{"low range only", "x:1000:10\n", "", 100000, true},
		{"full", "x:4294000000:900000\n", "", 0, false},
	} {
		got, ok := FreeStart(parse(c.uid), parse(c.gid))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: FreeStart = %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
