package store

import "testing"

func TestLayerUseSharedUnique(t *testing.T) {
	// base ← plus, base ← other ← top; "lone" alone.
	u := &LayerUse{
		Chains: map[string][]string{
			"bb": {"base"}, "plus": {"p", "base"}, "top": {"t", "o", "base"}, "lone": {"l"},
		},
		Sizes: map[string]int64{"base": 100, "p": 10, "o": 20, "t": 5, "l": 7},
	}
	all := []string{"bb", "plus", "top", "lone"}
	for _, c := range []struct {
		id           string
		size, shared int64
	}{{"bb", 100, 100}, {"plus", 110, 100}, {"top", 125, 100}, {"lone", 7, 0}} {
		size, shared := u.ImageSize(c.id, all)
		if size != c.size || shared != c.shared {
			t.Errorf("%s: size %d shared %d, want %d %d", c.id, size, shared, c.size, c.shared)
		}
	}
	if got := u.Total(); got != 142 {
		t.Errorf("total %d, want 142 (each layer once)", got)
	}
	if got := u.Unused([]string{"plus"}); got != 32 {
		t.Errorf("unused with plus in use: %d, want 32 (o, t, l; not the base)", got)
	}
	if got := u.Unused(nil); got != 142 {
		t.Errorf("unused with nothing in use: %d", got)
	}
}
