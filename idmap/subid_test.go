package idmap

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"empty", "", nil},
		{"one by name", "alice:100000:65536\n", []Entry{{"alice", 100000, 65536, 1}}},
		{"numeric owner", "1000:100000:65536\n", []Entry{{"1000", 100000, 65536, 1}}},
		{"no final newline", "alice:100000:65536", []Entry{{"alice", 100000, 65536, 1}}},
		{
			"several users and ranges",
			"alice:100000:65536\nbob:165536:65536\nalice:231072:1000\n",
			[]Entry{{"alice", 100000, 65536, 1}, {"bob", 165536, 65536, 2}, {"alice", 231072, 1000, 3}},
		},
		{
			"comments and blank lines",
			"# subordinate uids\n\nalice:100000:65536\n   \n  # indented comment\nbob:165536:65536\n\n",
			[]Entry{{"alice", 100000, 65536, 3}, {"bob", 165536, 65536, 6}},
		},
		{"surrounding whitespace", "  alice:100000:65536 \t\n", []Entry{{"alice", 100000, 65536, 1}}},
		{"crlf", "alice:100000:65536\r\nbob:165536:65536\r\n", []Entry{{"alice", 100000, 65536, 1}, {"bob", 165536, 65536, 2}}},
		{"leading zeros", "alice:0100000:065536\n", []Entry{{"alice", 100000, 65536, 1}}},
		{"largest range", "alice:0:4294967295\n", []Entry{{"alice", 0, 4294967295, 1}}},
		{"ends at last mappable id", "alice:4294967294:1\n", []Entry{{"alice", 4294967294, 1, 1}}},
		{"owner with dot and dash", "jo.ann-b:100000:10\n", []Entry{{"jo.ann-b", 100000, 10, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(tt.in), "/etc/subuid")
			if err != nil {
				t.Fatalf("ParseSubIDs: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSubIDsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"one field", "alice\n", `/etc/subuid:1: expected owner:start:count, got 1 field(s) in "alice"`},
		{"two fields", "alice:100000\n", `/etc/subuid:1: expected owner:start:count, got 2 field(s) in "alice:100000"`},
		{"four fields", "alice:100000:65536:x\n", `/etc/subuid:1: expected owner:start:count, got 4 field(s) in "alice:100000:65536:x"`},
		{"empty owner", ":100000:65536\n", `/etc/subuid:1: owner is empty`},
		{"empty start", "alice::65536\n", `/etc/subuid:1: start is empty`},
		{"empty count", "alice:100000:\n", `/etc/subuid:1: count is empty`},
		{"start not a number", "alice:abc:65536\n", `/etc/subuid:1: start "abc" is not a number`},
		{"count not a number", "ok:1:1\nok:2:1\nalice:100000:x\n", `/etc/subuid:3: count "x" is not a number`},
		{"hex", "alice:0x100:10\n", `/etc/subuid:1: start "0x100" is not a number`},
		{"plus sign", "alice:+100:10\n", `/etc/subuid:1: start "+100" is not a number`},
		{"inner space", "alice: 100000:65536\n", `/etc/subuid:1: start " 100000" is not a number`},
		{"trailing comment", "alice:100000:65536 # main\n", `/etc/subuid:1: count "65536 # main" is not a number`},
		{"negative start", "alice:-1:65536\n", `/etc/subuid:1: start "-1" is negative`},
		{"negative count", "alice:100000:-65536\n", `/etc/subuid:1: count "-65536" is negative`},
		{"zero count", "alice:100000:0\n", `/etc/subuid:1: count is 0`},
		{"start too large", "alice:4294967296:1\n", `/etc/subuid:1: start "4294967296" is larger than 4294967295`},
		{"count too large", "alice:1:99999999999999999999\n", `/etc/subuid:1: count "99999999999999999999" is larger than 4294967295`},
		{"overflow", "alice:4294967295:1\n", `/etc/subuid:1: range 4294967295+1 goes past 4294967294, the largest id a user namespace can map`},
		{"overflow big", "alice:100000:4294967295\n", `/etc/subuid:1: range 100000+4294967295 goes past 4294967294, the largest id a user namespace can map`},
		{"line number counts comments and blanks", "# c\n\nalice:100000:65536\r\nbob:1:0\r\n", `/etc/subuid:4: count is 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(tt.in), "/etc/subuid")
			if err == nil {
				t.Fatalf("ParseSubIDs succeeded with %+v, want error %q", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseSubIDsReadError(t *testing.T) {
	_, err := ParseSubIDs(failingReader{}, "/etc/subgid")
	if err == nil || err.Error() != "reading /etc/subgid: disk on fire" {
		t.Errorf("error %v, want the read error with the file name", err)
	}
}

func TestRangesFor(t *testing.T) {
	entries := []Entry{
		{"alice", 100000, 65536, 1},
		{"bob", 165536, 65536, 2},
		{"1000", 231072, 65536, 3},
		{"alice", 296608, 1000, 4},
		{"1000", 100000, 65536, 5}, // same range again, by uid
		{"alice", 297608, 1000, 6}, // adjacent to line 4
		{"01001", 400000, 10, 7},
	}
	tests := []struct {
		name     string
		userName string
		uid      uint32
		want     []SubIDRange
	}{
		{"by name and uid", "alice", 1000, []SubIDRange{{100000, 65536}, {231072, 65536}, {296608, 1000}, {297608, 1000}}},
		{"by name only", "bob", 1001, []SubIDRange{{165536, 65536}, {400000, 10}}},
		{"by uid only", "", 1000, []SubIDRange{{231072, 65536}, {100000, 65536}}},
		{"unknown user", "carol", 1002, nil},
		{"name unknown uid known", "carol", 1000, []SubIDRange{{231072, 65536}, {100000, 65536}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RangesFor(entries, tt.userName, tt.uid)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckRanges(t *testing.T) {
	tests := []struct {
		name   string
		ranges []SubIDRange
		hostID uint32
		want   string // "" means no error
	}{
		{"none", nil, 1000, ""},
		{"one", []SubIDRange{{100000, 65536}}, 1000, ""},
		{"adjacent", []SubIDRange{{100000, 65536}, {165536, 65536}}, 1000, ""},
		{"just below own id", []SubIDRange{{0, 1000}}, 1000, ""},
		{"just above own id", []SubIDRange{{1001, 1000}}, 1000, ""},
		{"overlap", []SubIDRange{{100000, 65536}, {150000, 65536}}, 1000,
			"subordinate ranges 100000-165535 and 150000-215535 overlap"},
		{"overlap reversed", []SubIDRange{{150000, 65536}, {100000, 65536}}, 1000,
			"subordinate ranges 100000-165535 and 150000-215535 overlap"},
		{"overlap not adjacent in order", []SubIDRange{{100, 100}, {500, 10}, {150, 10}}, 1000,
			"subordinate ranges 100-199 and 150-159 overlap"},
		{"nested", []SubIDRange{{500, 10}, {100, 1000}}, 5000,
			"subordinate ranges 100-1099 and 500-509 overlap"},
		{"duplicate", []SubIDRange{{100000, 10}, {100000, 10}}, 1000,
			"subordinate ranges 100000-100009 and 100000-100009 overlap"},
		{"one id shared", []SubIDRange{{100, 10}, {109, 10}}, 1000,
			"subordinate ranges 100-109 and 109-118 overlap"},
		{"contains own id", []SubIDRange{{1000, 65536}}, 1000,
			"subordinate range 1000-66535 contains the user's own id 1000"},
		{"contains own id at end", []SubIDRange{{100000, 65536}, {1, 1000}}, 1000,
			"subordinate range 1-1000 contains the user's own id 1000"},
		{"empty", []SubIDRange{{100000, 0}}, 1000,
			"subordinate range starting at 100000: count is 0"},
		{"overflow", []SubIDRange{{4294967295, 1}}, 1000,
			"subordinate range starting at 4294967295: range 4294967295+1 goes past 4294967294, the largest id a user namespace can map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRanges(tt.ranges, tt.hostID)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseGetsubids(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []SubIDRange
	}{
		{"empty", "", nil},
		{"one", "0: alice 100000 65536\n", []SubIDRange{{100000, 65536}}},
		{"two", "0: alice 100000 65536\n1: alice 200000 1000\n", []SubIDRange{{100000, 65536}, {200000, 1000}}},
		{"numeric owner, no newline", "0: 1000 300000 65536", []SubIDRange{{300000, 65536}}},
		{"extra spaces and blank lines", "\n  0:   alice\t100000  65536  \n\n", []SubIDRange{{100000, 65536}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGetsubids(tt.in)
			if err != nil {
				t.Fatalf("ParseGetsubids: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseGetsubidsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no colon", "alice 100000 65536\n", `parsing getsubids output line 1 "alice 100000 65536": no colon after the index`},
		{"bad index", "x: alice 100000 65536\n", `parsing getsubids output line 1 "x: alice 100000 65536": index "x" is not a number`},
		{"missing count", "0: alice 100000\n", `parsing getsubids output line 1 "0: alice 100000": expected owner, start and count after the index, got 2 field(s)`},
		{"extra field", "0: alice 100000 65536 9\n", `parsing getsubids output line 1 "0: alice 100000 65536 9": expected owner, start and count after the index, got 4 field(s)`},
		{"bad start", "0: alice 1e5 65536\n", `parsing getsubids output line 1 "0: alice 1e5 65536": start "1e5" is not a number`},
		{"zero count", "0: alice 100000 65536\n1: alice 200000 0\n", `parsing getsubids output line 2 "1: alice 200000 0": count is 0`},
		{"overflow", "0: alice 4294967295 1\n", `parsing getsubids output line 1 "0: alice 4294967295 1": range 4294967295+1 goes past 4294967294, the largest id a user namespace can map`},
		{"error text", "Error fetching ranges\n", `parsing getsubids output line 1 "Error fetching ranges": no colon after the index`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGetsubids(tt.in)
			if err == nil {
				t.Fatalf("ParseGetsubids succeeded with %+v, want error %q", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}
