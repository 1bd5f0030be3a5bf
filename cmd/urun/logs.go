package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

func init() {
	register("logs", func() *command {
		fs := pflag.NewFlagSet("logs", pflag.ContinueOnError)
		follow := fs.BoolP("follow", "f", false, "keep printing new output until the container exits")
		tail := fs.IntP("tail", "n", -1, "print only the last N lines")
		stamps := fs.BoolP("timestamps", "t", false, "prefix each line with its time")
		since := fs.String("since", "", "only lines after this time: RFC 3339 (2006-01-02T15:04:05Z), a Unix time, or a duration before now (10m)")
		until := fs.String("until", "", "only lines before this time (the forms of --since)")

		return &command{
			name:  "logs",
			short: "Print a detached container's output",
			usage: "logs [-f] [-n|--tail N] [-t] [--since T] [--until T] CONTAINER",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("logs", "exactly one container")
				}
				root, err := engine.StateRoot(g.root)
				if err != nil {
					return err
				}
				id, st, err := engine.Find(root, args[0])
				if err != nil {
					return err
				}
				if st.LogPath == "" {
					return fmt.Errorf("container %s keeps no log: only containers started with -d (or create + start) do", args[0])
				}
				var w logWindow
				if w.since, err = parseLogTime("--since", *since); err != nil {
					return err
				}
				if w.until, err = parseLogTime("--until", *until); err != nil {
					return err
				}
				return printLogsIn(root, id, st.LogPath, *follow, *tail, *stamps, w)
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

// logWindow is --since/--until (zero: open).
type logWindow struct{ since, until time.Time }

func (w logWindow) keeps(l logLine) bool {
	if w.since.IsZero() && w.until.IsZero() {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, l.stamp)
	if err != nil {
		return true
	}
	return (w.since.IsZero() || !t.Before(w.since)) && (w.until.IsZero() || t.Before(w.until))
}

// parseLogTime reads docker's forms of --since and --until.
func parseLogTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if sec, frac, ok := strings.Cut(s, "."); ok || sec != "" {
		if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
			ns := int64(0)
			if frac != "" {
				f, _ := strconv.ParseFloat("0."+frac, 64)
				ns = int64(f * 1e9)
			}
			return time.Unix(n, ns), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: use an RFC 3339 time, a Unix time or a duration such as 10m", flag, s)
}

func printLogsIn(root, id, path string, follow bool, tail int, stamps bool, w logWindow) error {
	var lines []logLine
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l, ok := parseLogLine(s); ok && w.keeps(l) {
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
			if l, ok := parseLogLine(strings.TrimSuffix(pending, "\n")); ok && w.keeps(l) {
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

// followLogFrom prints the log from offset (a rotation starts it over)
// until the container is no longer running.
func followLogFrom(root, id, path string, offset int64) error {
	f, err := os.Open(path)
	for i := 0; err != nil && i < 50; i++ {
		time.Sleep(100 * time.Millisecond) // the supervisor creates it
		f, err = os.Open(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	r := bufio.NewReader(f)
	var pending string
	started := false
	for {
		s, err := r.ReadString('\n')
		pending += s
		if err == nil {
			if l, ok := parseLogLine(strings.TrimSuffix(pending, "\n")); ok {
				emit(l, false)
			}
			pending = ""
			continue
		}
		st, lerr := container.Load(root, id)
		if lerr != nil {
			return nil
		}
		running := st.Status == "running" || st.Status == "created" || st.Status == container.StatusConfigured
		if running {
			started = true
		} else if started || st.ExitCode != nil && !st.FinishedAt.IsZero() && st.StartedAt.Before(st.FinishedAt) {
			// Drain what the supervisor wrote before it recorded the exit.
			for {
				s, err := r.ReadString('\n')
				pending += s
				if err != nil {
					return nil
				}
				if l, ok := parseLogLine(strings.TrimSuffix(pending, "\n")); ok {
					emit(l, false)
				}
				pending = ""
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
