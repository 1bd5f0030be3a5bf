package engine

import (
	"strings"
	"testing"
)

func TestInUseError(t *testing.T) {
	one := InUseError("localhost/a:1", []ImageUser{{ID: strings.Repeat("a", 64), Name: "job"}}).Error()
	if one != "image localhost/a:1 is in use by container job: remove it first ('urun rm job'), or use 'urun rmi -f localhost/a:1' to remove it too" {
		t.Errorf("one container: %s", one)
	}
	two := InUseError("localhost/a:1", []ImageUser{{ID: strings.Repeat("a", 64), Name: "x"}, {ID: strings.Repeat("b", 64)}}).Error()
	if !strings.Contains(two, "containers x, bbbbbbbbbbbb: remove them first ('urun rm x bbbbbbbbbbbb')") || !strings.Contains(two, "remove them too") {
		t.Errorf("two containers: %s", two)
	}
}
