package untar

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/urun-dev/urun/idmap"
)

func TestRangesText(t *testing.T) {
	for _, c := range []struct {
		m    idmap.Mapping
		want string
	}{
		{idmap.Mapping{rg(0, 1000, 1), rg(1, 100000, 65536)}, "0-65536"},
		{idmap.Mapping{rg(1, 100000, 10), rg(0, 1000, 1)}, "0-10"},
		{idmap.Mapping{rg(0, 1000, 1), rg(5, 100000, 10)}, "0-0, 5-14"},
		{idmap.Mapping{rg(0, 1000, 1)}, "0-0"},
	} {
		if got := rangesText(c.m); got != c.want {
			t.Errorf("rangesText(%v) = %q, want %q", c.m, got, c.want)
		}
	}
}

// The watcher sees every header of the stream the unpacker reads, and
// names the first entry whose owner is not mapped (whiteouts ignored).
func TestWatchFindsUnmappedOwners(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Name: "ok", Uid: 1000, Gid: 1000, Mode: 0o644, Typeflag: tar.TypeReg, Size: 3},
		{Name: "dir/.wh.gone", Uid: 900000, Gid: 0, Mode: 0o644, Typeflag: tar.TypeReg},
		{Name: "./dir/far", Uid: 5, Gid: 300000, Mode: 0o644, Typeflag: tar.TypeReg, Size: 3},
		{Name: "farther", Uid: 200000, Gid: 0, Mode: 0o644, Typeflag: tar.TypeReg},
	} {
		tw.WriteHeader(&h)
		if h.Size > 0 {
			tw.Write([]byte("abc"))
		}
	}
	tw.Close()
	m := nsMaps{uid: idmap.Mapping{rg(0, 1000, 1), rg(1, 100000, 65536)}, gid: idmap.Mapping{rg(0, 1000, 1), rg(1, 100000, 65536)}}
	r, c := m.watch(&buf)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	c.finish()
	if c.count != 2 || c.first == nil || c.first.Name != "/dir/far" || c.first.BadUID || !c.first.BadGID {
		t.Fatalf("count %d, first %+v", c.count, c.first)
	}
	msg := m.unmappedError(c.first, "sha256:0123456789abcdef0123").Error()
	for _, want := range []string{"/dir/far", "gid 300000", "0-65536", "sha256:0123456789ab ", "--squash-ids", "/etc/subuid"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
}

func rg(c, h, n uint32) idmap.Range { return idmap.Range{ContainerID: c, HostID: h, Size: n} }

// The watcher's cost on an unpack: reading a layer through it against
// reading it plainly (go test -bench Watch ./store).
func BenchmarkWatch(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := bytes.Repeat([]byte("x"), 64<<10)
	for i := range 2000 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Uid: 1000, Gid: 1000, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(content))})
		tw.Write(content)
	}
	tw.Close()
	m := nsMaps{uid: idmap.Mapping{rg(0, 1000, 1), rg(1, 100000, 65536)}, gid: idmap.Mapping{rg(0, 1000, 1), rg(1, 100000, 65536)}}
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			// No Seek: the unpacker reads a decompressing stream.
			tr := tar.NewReader(struct{ io.Reader }{bytes.NewReader(buf.Bytes())})
			for {
				if _, err := tr.Next(); err != nil {
					break
				}
			}
		}
	})
	b.Run("watched", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			r, c := m.watch(bytes.NewReader(buf.Bytes()))
			tr := tar.NewReader(r)
			for {
				if _, err := tr.Next(); err != nil {
					break
				}
			}
			c.finish()
		}
	})
}
