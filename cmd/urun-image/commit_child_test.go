package main

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func TestDedupeWhiteouts(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, n := range []string{"home/", "home/.wh..wh..opq", "home/.wh..wh..opq", "home/new", "etc/.wh.group"} {
		h := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644}
		if n == "home/" {
			h.Typeflag = tar.TypeDir
		}
		if n == "home/new" {
			h.Size = 2
		}
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("n\n"))
		}
	}
	tw.Close()
	var out bytes.Buffer
	if err := dedupeWhiteouts(&out, &in); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "home/new" {
			if b, _ := io.ReadAll(tr); string(b) != "n\n" {
				t.Errorf("content of home/new: %q", b)
			}
		}
	}
	if want := []string{"home/", "home/.wh..wh..opq", "home/new", "etc/.wh.group"}; len(names) != len(want) {
		t.Errorf("entries %v, want %v", names, want)
	}
}

func TestLayerMediaType(t *testing.T) {
	if mt, _ := layerMediaType("docker", "application/vnd.oci.image.layer.v1.tar+gzip"); mt != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
		t.Errorf("oci gzip in a docker manifest: %s", mt)
	}
	if mt, _ := layerMediaType("oci", "application/vnd.docker.image.rootfs.diff.tar.gzip"); mt != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("docker gzip in an oci manifest: %s", mt)
	}
	if _, err := layerMediaType("docker", "application/vnd.oci.image.layer.v1.tar+zstd"); err == nil {
		t.Error("zstd in a docker manifest: accepted")
	}
}
