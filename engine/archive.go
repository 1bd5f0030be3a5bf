package engine

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urun-dev/urun/container"
)

// save to stdout and load from stdin go through a file: image/v5's
// archive transports need a path they can seek in (podman does the
// same, in /var/tmp). The file lives in the data directory, where the
// images fit, named with the pid of the urun that made it, so the next
// one removes what a killed urun left.

const archiveTmp = "archive-tmp"

// TempArchive is an empty file for an archive passing through, and the
// function that removes it. SIGINT, SIGTERM and SIGHUP remove it too
// before urun exits with 130, 143 or 129.
func TempArchive(kind string) (*os.File, func(), error) {
	data, err := DataDir()
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(data, archiveTmp)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	sweepArchives(dir)
	f, err := os.CreateTemp(dir, kind+"-"+strconv.Itoa(os.Getpid())+"-*.tar")
	if err != nil {
		return nil, nil, fmt.Errorf("a temporary file for the archive: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			os.Remove(f.Name())
			os.Exit(128 + int(s.(syscall.Signal)))
		case <-done:
		}
	}()
	remove := func() {
		signal.Stop(sigs)
		close(done)
		f.Close()
		os.Remove(f.Name())
	}
	return f, remove, nil
}

// sweepArchives removes the files of urun processes that are gone.
func sweepArchives(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		f := strings.SplitN(e.Name(), "-", 3)
		if len(f) != 3 {
			continue
		}
		if pid, err := strconv.Atoi(f[1]); err == nil && pid != os.Getpid() && !container.ProcessAlive(pid, 0) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// CopyArchive copies an archive between a file and a stream, saying
// which side failed.
func CopyArchive(dst io.Writer, src io.Reader, what string) error {
	if _, err := io.Copy(dst, src); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
