package idmap

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSubIDs feeds arbitrary files through the parser and, for every
// owner found, through Build, checking that whatever is accepted is a map
// the kernel would accept too.
func FuzzParseSubIDs(f *testing.F) {
	f.Add("alice:100000:65536\n")
	f.Fuzz(func(t *testing.T, data string) {
		entries, err := ParseSubIDs(strings.NewReader(data), "subuid")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "subuid:") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		owners := map[string]bool{}
		for _, e := range entries {
			if e.Count == 0 || !fits(e.Start, e.Count) {
				t.Fatalf("parser accepted an unmappable range %+v", e)
			}
			owners[e.Owner] = true
		}
		for owner := range owners {
			uid := uint32(1000)
			if n, err := strconv.ParseUint(owner, 10, 32); err == nil {
				uid = uint32(n)
			}
			ranges := RangesFor(entries, owner, uid)
			if len(ranges) == 0 {
				t.Fatalf("owner %q has entries but RangesFor found none", owner)
			}
			for _, mode := range []Mode{ModeAuto, ModeKeepID} {
				m, err := Build(mode, uid, ranges)
				if err != nil {
					if errors.Is(err, ErrNoSubIDs) {
						t.Fatalf("Build(%s) returned ErrNoSubIDs for %d ranges", mode, len(ranges))
					}
					continue
				}
				checkBuilt(t, mode, uid, ranges, m)
			}
			// Anything CheckRanges accepts with room for the lines
			// must build in auto mode, or valid setups would fail.
			if uid != math.MaxUint32 && len(ranges) < MaxLines && CheckRanges(ranges, uid) == nil {
				if _, err := Build(ModeAuto, uid, ranges); err != nil {
					t.Fatalf("Build(auto, %d, %v) failed although the ranges are sound: %v", uid, ranges, err)
				}
			}
		}
	})
}

// checkBuilt asserts the properties every map from Build must have.
func checkBuilt(t *testing.T, mode Mode, uid uint32, ranges []SubIDRange, m Mapping) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("Build(%s, %d, %v) = %v does not validate: %v", mode, uid, ranges, m, err)
	}
	for _, r := range m {
		if uint64(r.ContainerID)+uint64(r.Size) > math.MaxUint32 || uint64(r.HostID)+uint64(r.Size) > math.MaxUint32 {
			t.Fatalf("Build(%s) line %+v goes past 2^32-1", mode, r)
		}
		// Both ends of each line must translate both ways.
		for _, c := range []uint32{r.ContainerID, r.ContainerID + r.Size - 1} {
			h, ok := m.ToHost(c)
			if !ok {
				t.Fatalf("Build(%s): container id %d is in %+v but ToHost misses it", mode, c, r)
			}
			if back, ok := m.ToContainer(h); !ok || back != c {
				t.Fatalf("Build(%s): container id %d -> host %d -> %d, %v", mode, c, h, back, ok)
			}
		}
	}
	var total uint64 = 1
	for _, r := range ranges {
		total += uint64(r.Count)
	}
	if m.Size() != total {
		t.Fatalf("Build(%s) maps %d ids, want %d", mode, m.Size(), total)
	}
	self := uint32(0)
	if mode == ModeKeepID {
		self = uid
	}
	if h, ok := m.ToHost(self); !ok || h != uid {
		t.Fatalf("Build(%s): container id %d maps to %d, %v; want the user's id %d", mode, self, h, ok, uid)
	}
	back, err := ParseProcMap(m.String())
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("ParseProcMap(String()) = %v, %v; want %v", back, err, m)
	}
}
