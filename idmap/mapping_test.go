package idmap

import (
	"reflect"
	"strings"
	"testing"
)

// autoMap is the usual map for uid 1000 with one range of 65536.
var autoMap = Mapping{{0, 1000, 1}, {1, 100000, 65536}}

// autoMapText is autoMap as the kernel prints /proc/PID/uid_map.
const autoMapText = "         0       1000          1\n         1     100000      65536\n"

func TestValidate(t *testing.T) {
	tooMany := make(Mapping, MaxLines+1)
	for i := range tooMany {
		tooMany[i] = Range{uint32(i), uint32(100000 + i), 1}
	}
	tests := []struct {
		name string
		m    Mapping
		want string // "" means valid
	}{
		{"auto", autoMap, ""},
		{"single", Mapping{{0, 1000, 1}}, ""},
		{"whole range", Mapping{{0, 0, 4294967295}}, ""},
		{"ends at last id", Mapping{{4294967294, 4294967294, 1}}, ""},
		{"max lines", tooMany[:MaxLines], ""},
		{"unordered", Mapping{{1, 100000, 65536}, {0, 1000, 1}}, ""},
		{"empty map", nil, "map has no lines"},
		{"too many lines", tooMany, "map has 341 lines, more than the kernel's limit of 340"},
		{"empty range", Mapping{{0, 1000, 1}, {1, 100000, 0}}, "map line 2 (1 100000 0) maps no ids"},
		{"container overflow", Mapping{{4294967295, 1000, 1}}, "map line 1 (4294967295 1000 1) goes past container id 4294967294"},
		{"container overflow big", Mapping{{1, 0, 4294967295}}, "map line 1 (1 0 4294967295) goes past container id 4294967294"},
		{"host overflow", Mapping{{0, 4294967295, 1}}, "map line 1 (0 4294967295 1) goes past host id 4294967294"},
		{"container overlap", Mapping{{0, 1000, 10}, {9, 100000, 10}},
			"map lines 1 and 2 overlap on the container side (ids 0-9 and 9-18)"},
		{"host overlap", Mapping{{0, 1000, 1}, {1, 100000, 65536}, {65537, 165535, 10}},
			"map lines 2 and 3 overlap on the host side (ids 100000-165535 and 165535-165544)"},
		{"same line twice", Mapping{{0, 1000, 1}, {0, 1000, 1}},
			"map lines 1 and 2 overlap on the container side (ids 0-0 and 0-0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
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

func TestToHostToContainer(t *testing.T) {
	keepID := Mapping{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}}
	tests := []struct {
		name      string
		m         Mapping
		container uint32
		host      uint32
		mapped    bool
	}{
		{"auto root", autoMap, 0, 1000, true},
		{"auto first sub", autoMap, 1, 100000, true},
		{"auto last sub", autoMap, 65536, 165535, true},
		{"auto past end", autoMap, 65537, 0, false},
		{"keep-id 0", keepID, 0, 100000, true},
		{"keep-id 999", keepID, 999, 100999, true},
		{"keep-id self", keepID, 1000, 1000, true},
		{"keep-id 1001", keepID, 1001, 101000, true},
		{"keep-id last", keepID, 65536, 165535, true},
		{"top of id space", Mapping{{4294967294, 7, 1}}, 4294967294, 7, true},
		{"empty map", nil, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := tt.m.ToHost(tt.container)
			if ok != tt.mapped || h != tt.host {
				t.Errorf("ToHost(%d) = %d, %v, want %d, %v", tt.container, h, ok, tt.host, tt.mapped)
			}
			if !tt.mapped {
				return
			}
			c, ok := tt.m.ToContainer(tt.host)
			if !ok || c != tt.container {
				t.Errorf("ToContainer(%d) = %d, %v, want %d, true", tt.host, c, ok, tt.container)
			}
		})
	}
}

func TestToContainerUnmapped(t *testing.T) {
	for _, id := range []uint32{0, 999, 1001, 99999, 165536, 4294967295} {
		if c, ok := autoMap.ToContainer(id); ok {
			t.Errorf("ToContainer(%d) = %d, true; want unmapped", id, c)
		}
	}
}

func TestToHostInvalidMapDoesNotWrap(t *testing.T) {
	m := Mapping{{0, 4294967290, 100}}
	if h, ok := m.ToHost(50); ok {
		t.Errorf("ToHost(50) = %d, true; want unmapped rather than a wrapped id", h)
	}
	m = Mapping{{4294967290, 0, 100}}
	if c, ok := m.ToContainer(50); ok {
		t.Errorf("ToContainer(50) = %d, true; want unmapped rather than a wrapped id", c)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		m    Mapping
		want uint64
	}{
		{nil, 0},
		{autoMap, 65537},
		{Mapping{{0, 0, 4294967295}, {0, 0, 4294967295}}, 2 * 4294967295},
	}
	for _, tt := range tests {
		if got := tt.m.Size(); got != tt.want {
			t.Errorf("%v.Size() = %d, want %d", tt.m, got, tt.want)
		}
	}
}

func TestStringAndParseProcMap(t *testing.T) {
	tests := []struct {
		name string
		m    Mapping
		text string
	}{
		{"auto", autoMap, autoMapText},
		{"init namespace", Mapping{{0, 0, 4294967295}}, "         0          0 4294967295\n"},
		{"keep-id", Mapping{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}},
			"         0     100000       1000\n      1000       1000          1\n      1001     101000      64536\n"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			got, err := ParseProcMap(tt.text)
			if err != nil {
				t.Fatalf("ParseProcMap: %v", err)
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Errorf("ParseProcMap = %+v, want %+v", got, tt.m)
			}
		})
	}
}

func TestParseProcMapLoose(t *testing.T) {
	got, err := ParseProcMap("0 1000 1\n\n\t1   100000 65536")
	if err != nil {
		t.Fatalf("ParseProcMap: %v", err)
	}
	if !reflect.DeepEqual(got, autoMap) {
		t.Errorf("got %+v, want %+v", got, autoMap)
	}
}

func TestParseProcMapErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"two fields", "0 1000\n", `parsing id map line 1 "0 1000": expected 3 fields, got 2`},
		{"four fields", autoMapText + "1 2 3 4\n", `parsing id map line 3 "1 2 3 4": expected 3 fields, got 4`},
		{"not a number", "0 x 1\n", `parsing id map line 1 "0 x 1": strconv.ParseUint: parsing "x": invalid syntax`},
		{"too large", "0 4294967296 1\n", `parsing id map line 1 "0 4294967296 1": strconv.ParseUint: parsing "4294967296": value out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProcMap(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHelperArgs(t *testing.T) {
	tests := []struct {
		name string
		m    Mapping
		pid  int
		want []string
	}{
		{"auto", autoMap, 4242, []string{"4242", "0", "1000", "1", "1", "100000", "65536"}},
		{"single", Mapping{{0, 1000, 1}}, 1, []string{"1", "0", "1000", "1"}},
		{"large", Mapping{{0, 0, 4294967295}}, 7, []string{"7", "0", "0", "4294967295"}},
		{"empty", nil, 9, []string{"9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.HelperArgs(tt.pid); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HelperArgs(%d) = %q, want %q", tt.pid, got, tt.want)
			}
		})
	}
}

func TestFuseOverlayOption(t *testing.T) {
	tests := []struct {
		name string
		m    Mapping
		want string
	}{
		{"auto", autoMap, "0:1000:1:1:100000:65536"},
		{"single", Mapping{{0, 1000, 1}}, "0:1000:1"},
		{"keep-id", Mapping{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}},
			"0:100000:1000:1000:1000:1:1001:101000:64536"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.FuseOverlayOption()
			if got != tt.want {
				t.Errorf("FuseOverlayOption() = %q, want %q", got, tt.want)
			}
			if strings.Count(got, ":") != max(0, 3*len(tt.m)-1) {
				t.Errorf("FuseOverlayOption() = %q has the wrong number of fields", got)
			}
		})
	}
}
