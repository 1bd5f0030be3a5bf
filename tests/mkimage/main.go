// Command mkimage builds the OCI images used by urun's test suites from the
// host's static busybox, without network access and byte-identically on every
// run.
//
// Usage:
//
//	go run ./tests/mkimage -out DIR [-busybox /bin/busybox]
//
// It writes DIR/busybox, DIR/hard, DIR/farids, DIR/stacked and DIR/plus (OCI
// image layouts, tag "latest"), DIR/hard/expected.txt and
// DIR/stacked/expected.txt (the merged trees, as listed by the command on
// their first line) and DIR/checksums.txt (sha256 of each index.json).
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	busyboxPath := flag.String("busybox", "/bin/busybox", "path of a statically linked busybox")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	bb, err := loadBusybox(*busyboxPath)
	if err == nil {
		err = build(*out, bb)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

// busybox is what the images need from the host binary; tests can supply a
// fake one so they do not depend on the host.
type busybox struct {
	Binary  []byte
	Applets []string
}

func loadBusybox(p string) (busybox, error) {
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return busybox{}, fmt.Errorf("busybox not found at %s: apt-get install busybox-static", p)
	}
	bin, err := os.ReadFile(p)
	if err != nil {
		return busybox{}, err
	}
	// A dynamically linked busybox would not run in an image without libc.
	if f, err := elf.NewFile(bytes.NewReader(bin)); err == nil {
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				return busybox{}, fmt.Errorf("busybox at %s is dynamically linked: apt-get install busybox-static", p)
			}
		}
	}
	listing, err := exec.Command(p, "--list").Output()
	if err != nil {
		return busybox{}, fmt.Errorf("%s --list: %w", p, err)
	}
	applets := strings.Fields(string(listing))
	if len(applets) == 0 {
		return busybox{}, fmt.Errorf("%s --list printed no applets", p)
	}
	for _, a := range applets {
		if strings.Contains(a, "/") {
			return busybox{}, fmt.Errorf("%s --list: unexpected applet name %q", p, a)
		}
	}
	sort.Strings(applets)
	return busybox{Binary: bin, Applets: applets}, nil
}

// build writes both layouts, expected.txt and checksums.txt into out.
func build(out string, bb busybox) error {
	base, err := buildLayer(busyboxLayer(bb.Binary, bb.Applets))
	if err != nil {
		return err
	}

	busyboxIndex, err := freshLayout(filepath.Join(out, "busybox"), []builtLayer{base}, v1.ImageConfig{
		Env: []string{defaultPath},
		Cmd: []string{"/bin/sh"},
	})
	if err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}

	hard := hardLayers()
	built := []builtLayer{base}
	for _, l := range hard {
		b, err := buildLayer(l)
		if err != nil {
			return err
		}
		built = append(built, b)
	}
	hardIndex, err := freshLayout(filepath.Join(out, "hard"), built, v1.ImageConfig{
		User:       "1000:1000",
		Env:        []string{defaultPath, "HARD_ENV=hard-value", "SPACED=a b"},
		Entrypoint: []string{"/bin/echo", "entry"},
		Cmd:        []string{"cmd-default"},
		WorkingDir: "/data/work",
		Labels:     map[string]string{"urun.test": "hard"},
	})
	if err != nil {
		return fmt.Errorf("hard image: %w", err)
	}

	merged, err := applyLayers(append([]layer{busyboxLayer(bb.Binary, bb.Applets)}, hard...))
	if err != nil {
		return fmt.Errorf("hard image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "hard", "expected.txt"), []byte(expectedFile(merged)), 0o644); err != nil {
		return err
	}

	far, err := buildLayer(farIDsLayer())
	if err != nil {
		return err
	}
	farIndex, err := freshLayout(filepath.Join(out, "farids"), []builtLayer{base, far}, v1.ImageConfig{
		Env: []string{defaultPath},
		Cmd: []string{"/bin/sh"},
	})
	if err != nil {
		return fmt.Errorf("farids image: %w", err)
	}

	// "stacked": the hard image without its last layer (a hard link to a
	// lower layer's file, which containers/storage's overlay driver does
	// not apply), so the layer store holds it: owners, modes, special
	// files, links, whiteouts and an opaque directory across layers.
	stackedBuilt := built[:len(built)-1]
	stackedIndex, err := freshLayout(filepath.Join(out, "stacked"), stackedBuilt, v1.ImageConfig{
		Env: []string{defaultPath},
		Cmd: []string{"/bin/sh"},
	})
	if err != nil {
		return fmt.Errorf("stacked image: %w", err)
	}
	stackedTree, err := applyLayers(append([]layer{busyboxLayer(bb.Binary, bb.Applets)}, hard[:len(hard)-1]...))
	if err != nil {
		return fmt.Errorf("stacked image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "stacked", "expected.txt"), []byte(expectedFile(stackedTree)), 0o644); err != nil {
		return err
	}

	// "plus": busybox's layer and one of its own (4 MiB), for two images
	// that share a base.
	plus, err := buildLayer(plusLayer())
	if err != nil {
		return err
	}
	plusIndex, err := freshLayout(filepath.Join(out, "plus"), []builtLayer{base, plus}, v1.ImageConfig{
		Env: []string{defaultPath},
		Cmd: []string{"/bin/sh"},
	})
	if err != nil {
		return fmt.Errorf("plus image: %w", err)
	}

	// "exposed": busybox with EXPOSE 8080/tcp and 53/udp and STOPSIGNAL
	// SIGINT (docker's -P and the image's stop signal).
	exposedIndex, err := freshLayout(filepath.Join(out, "exposed"), []builtLayer{base}, v1.ImageConfig{
		Env:          []string{defaultPath},
		Cmd:          []string{"/bin/sh"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
		StopSignal:   "SIGINT",
	})
	if err != nil {
		return fmt.Errorf("exposed image: %w", err)
	}

	// sha256sum format, so "cd DIR && sha256sum -c checksums.txt" works.
	checksums := fmt.Sprintf("%s  busybox/index.json\n%s  hard/index.json\n%s  farids/index.json\n%s  stacked/index.json\n%s  plus/index.json\n%s  exposed/index.json\n",
		hexSum(busyboxIndex), hexSum(hardIndex), hexSum(farIndex), hexSum(stackedIndex), hexSum(plusIndex), hexSum(exposedIndex))
	return os.WriteFile(filepath.Join(out, "checksums.txt"), []byte(checksums), 0o644)
}

// freshLayout removes an earlier build first, so no stale blobs are left in
// the layout.
func freshLayout(dir string, layers []builtLayer, cfg v1.ImageConfig) ([]byte, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	// The image holds the host's busybox binary, so it has the host's
	// architecture.
	return writeLayout(dir, "latest", layers, cfg, runtime.GOARCH)
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
