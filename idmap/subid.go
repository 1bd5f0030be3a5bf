package idmap

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SubIDRange is one subordinate range owned by a user.
type SubIDRange struct{ Start, Count uint32 }

// Entry is one parsed line of /etc/subuid or /etc/subgid.
type Entry struct {
	Owner        string
	Start, Count uint32
	// Line is the 1-based line number, kept so later checks can point at the file.
	Line int
}

// ParseSubIDs parses /etc/subuid or /etc/subgid text from r; filename only labels errors as "FILE:LINE: reason".
func ParseSubIDs(r io.Reader, filename string) ([]Entry, error) {
	// The files are small; reading them whole avoids bufio.Scanner's line length limit.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filename, err)
	}
	var entries []Entry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseSubIDLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", filename, i+1, err)
		}
		e.Line = i + 1
		entries = append(entries, e)
	}
	return entries, nil
}

// parseSubIDLine parses one trimmed, non-comment "owner:start:count" line.
func parseSubIDLine(line string) (Entry, error) {
	fields := strings.Split(line, ":")
	if len(fields) != 3 {
		return Entry{}, fmt.Errorf("expected owner:start:count, got %d field(s) in %q", len(fields), line)
	}
	if fields[0] == "" {
		return Entry{}, fmt.Errorf("owner is empty")
	}
	start, err := parseID("start", fields[1])
	if err != nil {
		return Entry{}, err
	}
	count, err := parseID("count", fields[2])
	if err != nil {
		return Entry{}, err
	}
	if err := checkRange(start, count); err != nil {
		return Entry{}, err
	}
	return Entry{Owner: fields[0], Start: start, Count: count}, nil
}

// parseID parses a decimal id or count, naming the field in the error so a
// user can find the mistake in a hand-edited file.
func parseID(what, s string) (uint32, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is empty", what)
	}
	if strings.HasPrefix(s, "-") {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return 0, fmt.Errorf("%s %q is negative", what, s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s %q is larger than %d", what, s, uint32(math.MaxUint32))
		}
		return 0, fmt.Errorf("%s %q is not a number", what, s)
	}
	return uint32(n), nil
}

// checkRange rejects a range the kernel could never map.
func checkRange(start, count uint32) error {
	if count == 0 {
		return fmt.Errorf("count is 0")
	}
	if !fits(start, count) {
		return fmt.Errorf("range %d+%d goes past %d, the largest id a user namespace can map", start, count, uint32(math.MaxUint32-1))
	}
	return nil
}

// RangesFor returns the ranges owned by userName or by the decimal uid, in file order, with exact duplicates dropped.
func RangesFor(entries []Entry, userName string, uid uint32) []SubIDRange {
	var out []SubIDRange
	seen := map[SubIDRange]bool{}
	for _, e := range entries {
		if !ownedBy(e.Owner, userName, uid) {
			continue
		}
		r := SubIDRange{Start: e.Start, Count: e.Count}
		// A user listed both by name and by uid commonly repeats the
		// same range; mapping it twice would be rejected as an overlap.
		if seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out
}

// ownedBy reports whether owner names the user, either by name or by uid.
func ownedBy(owner, userName string, uid uint32) bool {
	if userName != "" && owner == userName {
		return true
	}
	n, err := strconv.ParseUint(owner, 10, 32)
	return err == nil && uint32(n) == uid
}

// CheckRanges rejects empty or overflowing ranges, ranges that overlap each other, and ranges containing hostID, which the user already owns.
func CheckRanges(ranges []SubIDRange, hostID uint32) error {
	for _, r := range ranges {
		if err := checkRange(r.Start, r.Count); err != nil {
			return fmt.Errorf("subordinate range starting at %d: %w", r.Start, err)
		}
	}
	// Sorting by start means only neighbours need comparing, which keeps
	// a file with many thousands of ranges from taking quadratic time.
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b SubIDRange) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if overlap(a.Start, a.Count, b.Start, b.Count) {
			return fmt.Errorf("subordinate ranges %d-%d and %d-%d overlap",
				a.Start, last(a.Start, a.Count), b.Start, last(b.Start, b.Count))
		}
	}
	for _, r := range ranges {
		if overlap(r.Start, r.Count, hostID, 1) {
			return fmt.Errorf("subordinate range %d-%d contains the user's own id %d",
				r.Start, last(r.Start, r.Count), hostID)
		}
	}
	return nil
}

// ParseGetsubids parses the output of `getsubids USER` or `getsubids -g USER`: lines like "0: user 100000 65536".
func ParseGetsubids(out string) ([]SubIDRange, error) {
	var ranges []SubIDRange
	for i, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r, err := parseGetsubidsLine(line)
		if err != nil {
			return nil, fmt.Errorf("parsing getsubids output line %d %q: %w", i+1, line, err)
		}
		ranges = append(ranges, r)
	}
	return ranges, nil
}

// parseGetsubidsLine parses one "INDEX: OWNER START COUNT" line.
func parseGetsubidsLine(line string) (SubIDRange, error) {
	index, rest, ok := strings.Cut(line, ":")
	if !ok {
		return SubIDRange{}, fmt.Errorf("no colon after the index")
	}
	if _, err := strconv.ParseUint(index, 10, 32); err != nil {
		return SubIDRange{}, fmt.Errorf("index %q is not a number", index)
	}
	fields := strings.Fields(rest)
	if len(fields) != 3 {
		return SubIDRange{}, fmt.Errorf("expected owner, start and count after the index, got %d field(s)", len(fields))
	}
	start, err := parseID("start", fields[1])
	if err != nil {
		return SubIDRange{}, err
	}
	count, err := parseID("count", fields[2])
	if err != nil {
		return SubIDRange{}, err
	}
	if err := checkRange(start, count); err != nil {
		return SubIDRange{}, err
	}
	return SubIDRange{Start: start, Count: count}, nil
}
