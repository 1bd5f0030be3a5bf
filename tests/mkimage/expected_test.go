package main

import (
	"strings"
	"testing"
)

func TestApplyLayers(t *testing.T) {
	data := dir("/data", 0o755, 0, 0)
	tests := []struct {
		name    string
		layers  [][]entry
		want    []string // lines under /data, without the /data line itself
		wantErr string
	}{
		{
			name: "whiteout removes a lower file",
			layers: [][]entry{
				{data, file("/data/a", 0o644, 0, 0, "a"), file("/data/b", 0o644, 0, 0, "b")},
				{whiteout("/data/a")},
			},
			want: []string{"/data/b|0|0|644|regular file|1|1|/data/b"},
		},
		{
			name: "whiteout of a directory removes its subtree",
			layers: [][]entry{
				{data, dir("/data/d", 0o755, 0, 0), file("/data/d/x", 0o644, 0, 0, "x"), file("/data/dx", 0o644, 0, 0, "")},
				{whiteout("/data/d")},
			},
			want: []string{"/data/dx|0|0|644|regular empty file|1|0|/data/dx"},
		},
		{
			name: "whiteout does not hide an entry of its own layer",
			layers: [][]entry{
				{data},
				{file("/data/a", 0o600, 0, 0, "new"), whiteout("/data/a")},
			},
			want: []string{"/data/a|0|0|600|regular file|1|3|/data/a"},
		},
		{
			name: "opaque directory drops lower children and keeps new ones in any order",
			layers: [][]entry{
				{data, dir("/data/o", 0o755, 0, 0), file("/data/o/old", 0o644, 0, 0, "old"),
					dir("/data/o/sub", 0o755, 0, 0), file("/data/o/sub/x", 0o644, 0, 0, "x")},
				{file("/data/o/new", 0o644, 0, 0, "new"), opaque("/data/o"), dir("/data/o", 0o750, 0, 0)},
			},
			want: []string{
				"/data/o/new|0|0|644|regular file|1|3|/data/o/new",
				"/data/o|0|0|750|directory|-|-|/data/o",
			},
		},
		{
			name: "file replaced by a directory without whiteout",
			layers: [][]entry{
				{data, file("/data/f", 0o644, 0, 0, "f")},
				{dir("/data/f", 0o700, 1000, 1000), file("/data/f/in", 0o644, 0, 0, "in")},
			},
			want: []string{
				"/data/f/in|0|0|644|regular file|1|2|/data/f/in",
				"/data/f|1000|1000|700|directory|-|-|/data/f",
			},
		},
		{
			name: "directory replaced by a file through a whiteout",
			layers: [][]entry{
				{data, dir("/data/d", 0o755, 0, 0), file("/data/d/child", 0o644, 0, 0, "c")},
				{whiteout("/data/d"), file("/data/d", 0o644, 0, 0, "now a file")},
			},
			want: []string{"/data/d|0|0|644|regular file|1|10|/data/d"},
		},
		{
			name: "directory over directory keeps children and takes new attributes",
			layers: [][]entry{
				{data, dir("/data/d", 0o755, 0, 0), file("/data/d/keep", 0o644, 0, 0, "k")},
				{dir("/data/d", 0o2775, 0, 1000)},
			},
			want: []string{
				"/data/d/keep|0|0|644|regular file|1|1|/data/d/keep",
				"/data/d|0|1000|2775|directory|-|-|/data/d",
			},
		},
		{
			name: "hard links count every name, also across layers",
			layers: [][]entry{
				{data, file("/data/f", 0o4755, 1000, 1000, "ff"), hardlink("/data/g", "/data/f", 0o4755, 1000, 1000)},
				{hardlink("/data/h", "/data/f", 0o4755, 1000, 1000)},
			},
			want: []string{
				"/data/f|1000|1000|4755|regular file|3|2|/data/f",
				"/data/g|1000|1000|4755|regular file|3|2|/data/g",
				"/data/h|1000|1000|4755|regular file|3|2|/data/h",
			},
		},
		{
			name: "whiting out one name lowers the link count",
			layers: [][]entry{
				{data, file("/data/f", 0o644, 0, 0, "f"), hardlink("/data/g", "/data/f", 0o644, 0, 0)},
				{whiteout("/data/g")},
			},
			want: []string{"/data/f|0|0|644|regular file|1|1|/data/f"},
		},
		{
			name: "symlinks and fifos",
			layers: [][]entry{
				{data, symlink("/data/s", "../etc/group"), fifo("/data/p", 0o600, 65534, 65534)},
			},
			want: []string{
				"/data/p|65534|65534|600|fifo|1|-|/data/p",
				"/data/s|0|0|777|symbolic link|1|-|'/data/s' -> '../etc/group'",
			},
		},
		{
			name:    "missing parent is an error",
			layers:  [][]entry{{file("/data/x", 0o644, 0, 0, "")}},
			wantErr: "parent directory missing",
		},
		{
			name:    "hard link to a missing target is an error",
			layers:  [][]entry{{data, hardlink("/data/l", "/data/nope", 0o644, 0, 0)}},
			wantErr: "hard link target /data/nope missing",
		},
		{
			name:    "hard link with other attributes than its target is an error",
			layers:  [][]entry{{data, file("/data/f", 0o644, 0, 0, ""), hardlink("/data/l", "/data/f", 0, 0, 0)}},
			wantErr: "mode/owner differ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers []layer
			for _, es := range tc.layers {
				layers = append(layers, layer{Entries: es})
			}
			tr, err := applyLayers(layers)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range tr.lines() {
				if strings.HasPrefix(l, "/data/") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLinesSkipPathsOutsideRoots(t *testing.T) {
	tr, err := applyLayers([]layer{{Entries: []entry{
		dir("/bin", 0o755, 0, 0),
		file("/bin/busybox", 0o755, 0, 0, "x"),
		dir("/etc", 0o755, 0, 0),
		file("/etc/hosts", 0o644, 0, 0, "runtime-managed"),
		dir("/var", 0o755, 0, 0),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tr.lines(), "\n")
	if want := "/etc|0|0|755|directory|-|-|/etc"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHardExpectedTree(t *testing.T) {
	tr, err := applyLayers(append([]layer{busyboxLayer([]byte("x"), []string{"sh"})}, hardLayers()...))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(tr.lines(), "\n") + "\n"
	for _, want := range []string{
		"/data/hl/a/file|1000|1000|640|regular file|3|7|/data/hl/a/file\n",
		"/data/late-link|1000|1000|640|regular file|3|7|/data/late-link\n",
		"/data/opq/new|",
		"/data/f2d/inside|",
		"/data/d2f|0|0|644|regular file|",
		"/data/setuid|0|0|4755|",
		"/data/setgid-dir|0|1000|2775|directory|",
		"/data/sticky|0|0|1777|directory|",
		"/data/work|1000|1000|755|directory|",
		"/data/long/" + name255 + "|",
		longPath + "|",
		"/tmp|0|0|1777|directory|",
		"/root|0|0|700|directory|",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("expected tree lacks %q", want)
		}
	}
	for _, gone := range []string{"/data/gone|", "/data/opq/old1|", "/data/opq/oldsub", "/data/d2f/child", "/data/.wh.", "/bin/"} {
		if strings.Contains(lines, gone) {
			t.Errorf("expected tree still has %q", gone)
		}
	}
	if len(longPath) <= 256 || len(name255) != 255 {
		t.Errorf("long names too short: path %d bytes, name %d bytes", len(longPath), len(name255))
	}
}
