package container

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidIDMatchesPattern: the hand-written check accepts exactly what
// the documented pattern does.
func TestValidIDMatchesPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	ids := []string{
		"", "a", "A", "0", "_", ".", "-", "a_b", "a.b", "a-b", "..", "a/b", "a b", "a\x00b",
		"é", "aé", "-a", "a-", "a..", strings.Repeat("a", 128), strings.Repeat("a", 129),
		"a" + strings.Repeat("-", 127), "a" + strings.Repeat("-", 128), "abc\n", "Z9_.-z",
	}
	// Every single byte, first and later.
	for c := 0; c < 256; c++ {
		ids = append(ids, string([]byte{byte(c)}), "a"+string([]byte{byte(c)}))
	}
	for _, id := range ids {
		if got, want := ValidID(id) == nil, pattern.MatchString(id); got != want {
			t.Errorf("ValidID(%q) ok=%v, the pattern says %v", id, got, want)
		}
	}
}
