package untar

import (
	"archive/tar"
	"cmp"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/urun-dev/urun/idmap"
)

// Files whose owner the user namespace does not map cannot be chowned
// there: the kernel answers EINVAL, and pkg/archive passes that on as a
// bare "lchown …: invalid argument". idCheck reads the same tar stream
// pkg/archive reads (a tee, so the layer is decompressed once) and notes
// the first such file, so the error can name the file, the id and the fix,
// and with SquashUnmapped the warning can say how many files became root's.

// unmappedFile is a tar entry with an owner outside the mapping.
type unmappedFile struct {
	Name     string
	UID, GID int
	// BadUID and BadGID say which of the two is not mapped.
	BadUID, BadGID bool
}

// nsMaps are the ids this user namespace maps, read from /proc/self:
// the unpack helper runs inside it.
type nsMaps struct{ uid, gid idmap.Mapping }

func readNSMaps() (nsMaps, error) {
	var m nsMaps
	for _, f := range []struct {
		file string
		dst  *idmap.Mapping
	}{{"/proc/self/uid_map", &m.uid}, {"/proc/self/gid_map", &m.gid}} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return m, err
		}
		if *f.dst, err = idmap.ParseProcMap(string(b)); err != nil {
			return m, err
		}
	}
	return m, nil
}

func mapped(m idmap.Mapping, id int) bool {
	if id < 0 || id > 1<<32-1 {
		return false
	}
	_, ok := m.ToHost(uint32(id))
	return ok
}

// idCheck watches one layer's tar stream for unmapped owners.
type idCheck struct {
	maps  nsMaps
	pw    *io.PipeWriter
	done  chan struct{}
	first *unmappedFile
	count int
}

// watch returns a reader that yields r's bytes and feeds them to the
// checker; finish must be called once the reader is no longer read.
func (m nsMaps) watch(r io.Reader) (io.Reader, *idCheck) {
	pr, pw := io.Pipe()
	c := &idCheck{maps: m, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			// Whiteouts are not created, so their owners do not matter.
			if strings.HasPrefix(path.Base(h.Name), ".wh.") {
				continue
			}
			badU, badG := !mapped(m.uid, h.Uid), !mapped(m.gid, h.Gid)
			if badU || badG {
				c.count++
				if c.first == nil {
					c.first = &unmappedFile{Name: "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/"),
						UID: h.Uid, GID: h.Gid, BadUID: badU, BadGID: badG}
				}
			}
		}
		// Keep draining: the tee must never block on this side.
		io.Copy(io.Discard, pr)
	}()
	return io.TeeReader(r, pw), c
}

// finish ends the watch and waits until every byte read so far was checked.
func (c *idCheck) finish() {
	c.pw.Close()
	<-c.done
}

// unmappedError is the one line a user gets for such an image.
func (m nsMaps) unmappedError(f *unmappedFile, layer string) error {
	var owner []string
	need := 0
	if f.BadUID {
		owner = append(owner, fmt.Sprintf("uid %d", f.UID))
		need = max(need, f.UID)
	}
	if f.BadGID {
		owner = append(owner, fmt.Sprintf("gid %d", f.GID))
		need = max(need, f.GID)
	}
	return fmt.Errorf("file %s in layer %s is owned by %s, outside the ids this user namespace maps (uids %s, gids %s): "+
		"give your user at least %d subordinate ids in /etc/subuid and /etc/subgid (sudo usermod --add-subuids and --add-subgids), "+
		"or run with --squash-ids (or URUN_SQUASH_IDS=1) to give such files to root",
		f.Name, shortDigest(layer), strings.Join(owner, " and "), rangesText(m.uid), rangesText(m.gid), need)
}

// rangesText formats the container side of a mapping, adjacent lines
// joined: "0-65536" for the user's own id plus 65536 subordinate ones.
func rangesText(m idmap.Mapping) string {
	rs := slices.Clone(m)
	slices.SortFunc(rs, func(a, b idmap.Range) int { return cmp.Compare(a.ContainerID, b.ContainerID) })
	var parts []string
	for i := 0; i < len(rs); {
		first, end := uint64(rs[i].ContainerID), uint64(rs[i].ContainerID)+uint64(rs[i].Size)
		for i++; i < len(rs) && uint64(rs[i].ContainerID) == end; i++ {
			end += uint64(rs[i].Size)
		}
		parts = append(parts, fmt.Sprintf("%d-%d", first, end-1))
	}
	return strings.Join(parts, ", ")
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
