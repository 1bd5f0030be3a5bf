package idmap

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
	}{
		{"", ModeAuto},
		{"auto", ModeAuto},
		{"keep-id", ModeKeepID},
		{"host-single", ModeHostSingle},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"Auto", "keepid", "host", " auto"} {
		_, err := ParseMode(bad)
		want := `unknown user namespace mode "` + bad + `" (valid: auto, keep-id, host-single)`
		if err == nil || err.Error() != want {
			t.Errorf("ParseMode(%q) error %v, want %q", bad, err, want)
		}
	}
}

func TestBuild(t *testing.T) {
	one := []SubIDRange{{100000, 65536}}
	two := []SubIDRange{{100000, 65536}, {200000, 1000}}
	tests := []struct {
		name   string
		mode   Mode
		hostID uint32
		ranges []SubIDRange
		want   Mapping
	}{
		{"auto one range", ModeAuto, 1000, one, Mapping{{0, 1000, 1}, {1, 100000, 65536}}},
		{"auto two ranges", ModeAuto, 1000, two, Mapping{{0, 1000, 1}, {1, 100000, 65536}, {65537, 200000, 1000}}},
		{"auto ranges below own id", ModeAuto, 100000, []SubIDRange{{1, 99999}}, Mapping{{0, 100000, 1}, {1, 1, 99999}}},
		{"keep-id one range", ModeKeepID, 1000, one,
			Mapping{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}}},
		{"keep-id split second range", ModeKeepID, 1000, []SubIDRange{{100000, 600}, {200000, 1000}},
			Mapping{{0, 100000, 600}, {600, 200000, 400}, {1000, 1000, 1}, {1001, 200400, 600}}},
		{"keep-id first range exactly below", ModeKeepID, 1000, []SubIDRange{{100000, 1000}, {200000, 10}},
			Mapping{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 200000, 10}}},
		{"keep-id exactly enough", ModeKeepID, 1000, []SubIDRange{{100000, 400}, {200000, 600}},
			Mapping{{0, 100000, 400}, {400, 200000, 600}, {1000, 1000, 1}}},
		{"keep-id root", ModeKeepID, 0, one, Mapping{{0, 0, 1}, {1, 100000, 65536}}},
		{"host-single", ModeHostSingle, 1000, one, Mapping{{0, 1000, 1}}},
		{"host-single without ranges", ModeHostSingle, 1000, nil, Mapping{{0, 1000, 1}}},
		{"host-single ignores bad ranges", ModeHostSingle, 1000, []SubIDRange{{0, 65536}}, Mapping{{0, 1000, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(tt.mode, tt.hostID, tt.ranges)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Build = %+v, want %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Build result does not validate: %v", err)
			}
			var total uint64 = 1
			if tt.mode != ModeHostSingle {
				for _, r := range tt.ranges {
					total += uint64(r.Count)
				}
			}
			if got.Size() != total {
				t.Errorf("Build mapped %d ids, want %d", got.Size(), total)
			}
		})
	}
}

func TestBuildNoSubIDs(t *testing.T) {
	for _, mode := range []Mode{ModeAuto, ModeKeepID} {
		for _, ranges := range [][]SubIDRange{nil, {}} {
			m, err := Build(mode, 1000, ranges)
			if !errors.Is(err, ErrNoSubIDs) {
				t.Errorf("Build(%s, no ranges) = %v, %v; want ErrNoSubIDs", mode, m, err)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	many := make([]SubIDRange, MaxLines)
	for i := range many {
		many[i] = SubIDRange{uint32(100000 + 10*i), 1}
	}
	tests := []struct {
		name   string
		mode   Mode
		hostID uint32
		ranges []SubIDRange
		want   string
	}{
		{"keep-id insufficient", ModeKeepID, 1000, []SubIDRange{{100000, 500}},
			"building the keep-id id map: keeping id 1000 needs at least 1000 subordinate ids (for container ids 0-999), but only 500 are available"},
		{"keep-id insufficient over two ranges", ModeKeepID, 1000, []SubIDRange{{100000, 500}, {200000, 499}},
			"building the keep-id id map: keeping id 1000 needs at least 1000 subordinate ids (for container ids 0-999), but only 999 are available"},
		{"overlapping ranges", ModeAuto, 1000, []SubIDRange{{100000, 65536}, {150000, 65536}},
			"building the auto id map: subordinate ranges 100000-165535 and 150000-215535 overlap"},
		{"own id in range", ModeKeepID, 1000, []SubIDRange{{1000, 65536}},
			"building the keep-id id map: subordinate range 1000-66535 contains the user's own id 1000"},
		// Only reachable with the invalid host id (uid_t)-1, since valid
		// ranges must leave room for the user's own id.
		{"too many ids", ModeAuto, 4294967295, []SubIDRange{{0, 4294967295}},
			"building the auto id map: the subordinate ranges hold 4294967295 ids, more than a user namespace can map"},
		{"invalid host id", ModeAuto, 4294967295, []SubIDRange{{0, 1000}},
			"building the auto id map: map line 1 (0 4294967295 1) goes past host id 4294967294"},
		{"too many lines", ModeAuto, 1000, many,
			"building the auto id map: map has 341 lines, more than the kernel's limit of 340"},
		{"unknown mode", Mode("weird"), 1000, []SubIDRange{{100000, 65536}},
			`building an id map: unknown mode "weird"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build(tt.mode, tt.hostID, tt.ranges)
			if err == nil {
				t.Fatalf("Build succeeded with %+v, want error %q", m, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if errors.Is(err, ErrNoSubIDs) {
				t.Errorf("error %q must not be ErrNoSubIDs", err)
			}
		})
	}
}

// TestBuildLargestAuto checks the biggest map the kernel accepts can be built.
func TestBuildLargestAuto(t *testing.T) {
	m, err := Build(ModeAuto, 0, []SubIDRange{{1, 4294967294}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if m.Size() != 4294967295 {
		t.Errorf("Size() = %d, want 4294967295", m.Size())
	}
}
