package podmanstore

import (
	"strings"
	"testing"

	"github.com/urun-dev/urun/idmap"
	"github.com/urun-dev/urun/userns"
)

func TestCheckMaps(t *testing.T) {
	multi := idmap.Mapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	single := idmap.Mapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	for _, tc := range []struct {
		name string
		maps userns.Maps
		want string // "" = accepted
	}{
		{"podman's mapping", userns.Maps{UID: multi, GID: multi, UseHelpers: true, Mode: idmap.ModeAuto}, ""},
		{"keep-id", userns.Maps{UID: multi, GID: multi, UseHelpers: true, Mode: idmap.ModeKeepID}, "keep-id"},
		{"single-id fallback", userns.Maps{UID: single, GID: single, Mode: idmap.ModeHostSingle}, "subordinate ids"},
		{"auto without helpers", userns.Maps{UID: single, GID: single, Mode: idmap.ModeAuto}, "subordinate ids"},
	} {
		err := CheckMaps(tc.maps)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}
