package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"strings"
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

func TestMergeConfigHealth(t *testing.T) {
	b, err := mergeConfig([]byte(`{"config":{"Healthcheck":{"Test":["CMD","old"]}}}`), []byte(`{"config":{}}`), []byte(`{"Test":["NONE"]}`))
	if err != nil || !strings.Contains(string(b), `"Healthcheck":{"Test":["NONE"]}`) {
		t.Errorf("%s %v", b, err)
	}
}

func TestMergeConfig(t *testing.T) {
	parent := `{"architecture":"amd64","os":"linux","docker_version":"24","container_config":{"Cmd":["build"]},
		"config":{"Cmd":["old"],"Env":["A=1"],"Healthcheck":{"Test":["CMD","true"]},"OnBuild":["RUN x"]},
		"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"base"}]}`
	ours := `{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/e"],"Env":["A=2"]},
		"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]},"history":[{"created_by":"base"},{"created_by":"c"}]}`
	b, err := mergeConfig([]byte(parent), []byte(ours), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		DockerVersion   string          `json:"docker_version"`
		ContainerConfig json.RawMessage `json:"container_config"`
		Config          map[string]json.RawMessage
		RootFS          struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.DockerVersion != "24" || got.ContainerConfig != nil || len(got.RootFS.DiffIDs) != 2 {
		t.Errorf("top level: %s", b)
	}
	if _, ok := got.Config["Cmd"]; ok || string(got.Config["Env"]) != `["A=2"]` || got.Config["Healthcheck"] == nil || got.Config["OnBuild"] == nil || got.Config["Entrypoint"] == nil {
		t.Errorf("config: %s", b)
	}
}
