package fuseoverlay

import "testing"

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Plan
		ok   bool
	}{
		{"native one layer", Plan{Tier: Native, Lower: []string{"/l"}}, true},
		{"no layers", Plan{Tier: Native}, false},
		{"colon in path", Plan{Tier: Native, Lower: []string{"/a:b"}}, false},
		{"comma in path", Plan{Tier: Fuse, Lower: []string{"/a,b"}}, false},
		{"relative path", Plan{Tier: Native, Lower: []string{"l"}}, false},
		{"upper without work", Plan{Tier: Native, Lower: []string{"/l"}, Upper: "/u"}, false},
		{"bind two dirs", Plan{Tier: Bind, Lower: []string{"/a", "/b"}}, false},
		{"bind", Plan{Tier: Bind, Lower: []string{"/a"}}, true},
	} {
		err := tc.p.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestOverlayOptions(t *testing.T) {
	p := Plan{Lower: []string{"/top", "/base"}, UIDMapping: "0:1000:1", GIDMapping: "0:1000:1"}
	if got, want := overlayOptions(p, "/u", "/w", true), "lowerdir=/top:/base,upperdir=/u,workdir=/w,userxattr"; got != want {
		t.Errorf("native: got %q, want %q", got, want)
	}
	if got, want := overlayOptions(p, "/u", "/w", false), "lowerdir=/top:/base,upperdir=/u,workdir=/w,uidmapping=0:1000:1,gidmapping=0:1000:1"; got != want {
		t.Errorf("fuse: got %q, want %q", got, want)
	}
	p.Volatile = true
	if got, want := overlayOptions(p, "/u", "/w", true), "lowerdir=/top:/base,upperdir=/u,workdir=/w,userxattr,volatile"; got != want {
		t.Errorf("native, volatile: got %q, want %q", got, want)
	}
	if got, want := overlayOptions(p, "/u", "/w", false), "lowerdir=/top:/base,upperdir=/u,workdir=/w,uidmapping=0:1000:1,gidmapping=0:1000:1"; got != want {
		t.Errorf("fuse, volatile: got %q, want %q", got, want)
	}
}
