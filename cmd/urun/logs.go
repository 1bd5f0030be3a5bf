package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
)

func init() {
	register("logs", func() *command {
		fs := pflag.NewFlagSet("logs", pflag.ContinueOnError)
		follow := fs.BoolP("follow", "f", false, "keep printing new output until the container exits")
		tail := fs.Int("tail", -1, "print only the last N lines")
		stamps := fs.BoolP("timestamps", "t", false, "prefix each line with its time")
		return &command{
			name:  "logs",
			short: "Print a detached container's output",
			usage: "logs [-f] [--tail N] [-t] CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("logs", "exactly one container")
				}
				root, err := ociRoot(g)
				if err != nil {
					return err
				}
				id, st, err := findContainer(root, args[0])
				if err != nil {
					return err
				}
				if st.LogPath == "" {
					return fmt.Errorf("container %s keeps no log: only containers started with -d (or create + start) do", args[0])
				}
				return printLogs(root, id, st.LogPath, *follow, *tail, *stamps)
			},
		}
	})
}

// logLine is one record of the k8s-file log.
type logLine struct {
	stamp, stream string
	partial       bool
	text          string
}

func parseLogLine(s string) (logLine, bool) {
	f := strings.SplitN(s, " ", 4)
	if len(f) < 3 {
		return logLine{}, false
	}
	l := logLine{stamp: f[0], stream: f[1], partial: f[2] == "P"}
	if len(f) == 4 {
		l.text = f[3]
	}
	return l, true
}

func printLogs(root, id, path string, follow bool, tail int, stamps bool) error {
	var lines []logLine
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l, ok := parseLogLine(s); ok {
				lines = append(lines, l)
			}
		}
	}
	if tail >= 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		emit(l, stamps)
	}
	if !follow {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	f.Seek(0, io.SeekEnd)
	r := bufio.NewReader(f)
	var pending string
	for {
		s, err := r.ReadString('\n')
		pending += s
		if err == nil {
			if l, ok := parseLogLine(strings.TrimSuffix(pending, "\n")); ok {
				emit(l, stamps)
			}
			pending = ""
			continue
		}
		st, lerr := container.Load(root, id)
		if lerr != nil || (st.Status != "running" && st.Status != "created" && st.Status != container.StatusConfigured) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func emit(l logLine, stamps bool) {
	w := os.Stdout
	if l.stream == "stderr" {
		w = os.Stderr
	}
	if stamps {
		fmt.Fprint(w, l.stamp+" ")
	}
	if l.partial {
		fmt.Fprint(w, l.text)
	} else {
		fmt.Fprintln(w, l.text)
	}
}
