package engine

// top: the processes of a container, as podman's top shows them (its
// psgo descriptors: user, pid, ppid, pcpu, etime, time, tty, args…,
// pids as the container sees them), or, given ps(1) options, host ps
// with those options on the container's processes only (docker's top).

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TopDescriptors are the columns top knows (podman's names and headers).
var TopDescriptors = map[string]string{
	"args": "COMMAND", "comm": "COMMAND", "etime": "ELAPSED", "group": "GROUP",
	"hpid": "HPID", "huser": "HUSER", "nice": "NI", "pcpu": "%CPU", "pgid": "PGID",
	"pid": "PID", "ppid": "PPID", "rss": "RSS", "state": "STATE", "time": "TIME",
	"tty": "TTY", "user": "USER", "vsz": "VSZ",
}

// DefaultTop is podman's default top format.
var DefaultTop = []string{"user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"}

// proc is one process of the container.
type proc struct {
	hostPid, pid, ppid, pgid, nice int
	uid, gid                       uint32
	state, comm                    string
	args                           []string
	start, cpu                     float64 // seconds since boot; user+system seconds
	vsz, rss                       int64   // KiB
	tty                            uint64
}

// containerPids are the host pids of the processes in the pid
// namespace of init (hostPid): its descendants, and processes exec'd
// into it (whose namespace link we can read).
func containerPids(initPid int) ([]int, error) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readStat(pid); err == nil {
			parent[pid] = p.ppid
		}
	}
	in := func(pid int) bool {
		for p, n := pid, 0; p > 1 && n < 1000; p, n = parent[p], n+1 {
			if p == initPid {
				return true
			}
		}
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		return err == nil && l == ns
	}
	var out []int
	for pid := range parent {
		if in(pid) {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out, nil
}

// readStat reads /proc/PID/stat and status (world-readable).
func readStat(pid int) (*proc, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if l < 0 || r < l {
		return nil, errors.New("bad stat")
	}
	f := strings.Fields(s[r+1:])
	if len(f) < 22 {
		return nil, errors.New("short stat")
	}
	p := &proc{hostPid: pid, comm: s[l+1 : r], state: f[0]}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	p.ppid, p.pgid = atoi(f[1]), atoi(f[2])
	p.tty, _ = strconv.ParseUint(f[4], 10, 64)
	tick := 100.0 // USER_HZ
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	p.cpu = (ut + st) / tick
	p.nice = atoi(f[16])
	start, _ := strconv.ParseFloat(f[19], 64)
	p.start = start / tick
	vsz, _ := strconv.ParseInt(f[20], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	p.vsz, p.rss = vsz/1024, rss*int64(os.Getpagesize())/1024
	p.pid = pid
	if st, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(st)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			fs := strings.Fields(v)
			switch {
			case k == "NSpid" && len(fs) > 0:
				p.pid = atoi(fs[len(fs)-1])
			case k == "Uid" && len(fs) > 0:
				n, _ := strconv.ParseUint(fs[0], 10, 32)
				p.uid = uint32(n)
			case k == "Gid" && len(fs) > 0:
				n, _ := strconv.ParseUint(fs[0], 10, 32)
				p.gid = uint32(n)
			case k == "NSpgid" && len(fs) > 0:
				p.pgid = atoi(fs[len(fs)-1])
			}
		}
		st.Close()
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(b) > 0 {
		p.args = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	return p, nil
}

// Top is container ref's process table: a header and rows. ps options
// that are not all descriptors run host ps on the container's pids.
func Top(root, ref string, opts []string) ([][]string, error) {
	_, st, err := Find(root, ref)
	if err != nil {
		return nil, err
	}
	if st.Status != "running" || st.Pid <= 0 {
		return nil, fmt.Errorf("top: container %s is not running (top can only be used on running containers)", ref)
	}
	pids, err := containerPids(st.Pid)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	if len(opts) == 0 {
		opts = DefaultTop
	}
	descriptors := true
	var fields []string
	for _, o := range opts {
		for _, f := range strings.Split(o, ",") {
			if _, ok := TopDescriptors[f]; !ok {
				descriptors = false
			}
			fields = append(fields, f)
		}
	}
	if !descriptors {
		return hostPS(opts, pids)
	}
	uidMap, gidMap := idFiles(st.Pid)
	users, groups := namesIn(st.Pid, "passwd"), namesIn(st.Pid, "group")
	uptime := uptimeSeconds()
	header := make([]string, len(fields))
	for i, f := range fields {
		header[i] = TopDescriptors[f]
	}
	rows := [][]string{header}
	hostPid := map[int]int{}
	for _, hp := range pids {
		p, err := readStat(hp)
		if err != nil {
			continue
		}
		hostPid[hp] = p.pid
		row := make([]string, len(fields))
		cuid, cgid := mapBack(p.uid, uidMap), mapBack(p.gid, gidMap)
		elapsed := uptime - p.start
		for i, f := range fields {
			switch f {
			case "args":
				row[i] = strings.Join(p.args, " ")
				if row[i] == "" {
					row[i] = "[" + p.comm + "]"
				}
			case "comm":
				row[i] = p.comm
			case "etime":
				row[i] = time.Duration(elapsed * float64(time.Second)).Round(time.Millisecond).String()
			case "group":
				row[i] = nameOr(groups, cgid)
			case "hpid":
				row[i] = strconv.Itoa(hp)
			case "huser":
				row[i] = strconv.FormatUint(uint64(p.uid), 10)
			case "nice":
				row[i] = strconv.Itoa(p.nice)
			case "pcpu":
				pc := 0.0
				if elapsed > 0 {
					pc = 100 * p.cpu / elapsed
				}
				row[i] = strconv.FormatFloat(pc, 'f', 3, 64)
			case "pgid":
				row[i] = strconv.Itoa(p.pgid)
			case "pid":
				row[i] = strconv.Itoa(p.pid)
			case "ppid":
				row[i] = "0"
				if hp != st.Pid {
					row[i] = strconv.Itoa(p.ppid) // replaced below once every pid is known
				}
			case "rss":
				row[i] = strconv.FormatInt(p.rss, 10)
			case "state":
				row[i] = p.state
			case "time":
				row[i] = (time.Duration(p.cpu) * time.Second).String()
			case "tty":
				row[i] = "?"
				if p.tty != 0 {
					row[i] = fmt.Sprintf("pts/%d", unix.Minor(p.tty))
				}
			case "user":
				row[i] = nameOr(users, cuid)
			case "vsz":
				row[i] = strconv.FormatInt(p.vsz, 10)
			}
		}
		rows = append(rows, row)
	}
	// Parents as the container sees them.
	for i, f := range fields {
		if f != "ppid" {
			continue
		}
		for _, row := range rows[1:] {
			if n, err := strconv.Atoi(row[i]); err == nil && n != 0 {
				row[i] = strconv.Itoa(hostPid[n]) // 0 when outside the container
			}
		}
	}
	return rows, nil
}

// hostPS runs ps(1) with opts and keeps the rows of pids, found by
// the PID column, as docker's top.
func hostPS(opts []string, pids []int) ([][]string, error) {
	ps, err := exec.LookPath("ps")
	if err != nil {
		return nil, errors.New("top: ps options need ps(1) on the host (Debian: procps), or give podman's descriptors (pid, user, args…)")
	}
	out, err := exec.Command(ps, opts...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("top: ps %s: %s", strings.Join(opts, " "), strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("top: ps %s prints no PID column to find the container's processes by", strings.Join(opts, " "))
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	rows := [][]string{{lines[0]}}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && in[f[col]] {
			rows = append(rows, []string{l})
		}
	}
	return rows, nil
}

type idRange struct{ inside, outside, size uint32 }

func idFiles(pid int) (uids, gids []idRange) {
	read := func(name string) []idRange {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
		if err != nil {
			return nil
		}
		var out []idRange
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) != 3 {
				continue
			}
			a, _ := strconv.ParseUint(f[0], 10, 32)
			b, _ := strconv.ParseUint(f[1], 10, 32)
			c, _ := strconv.ParseUint(f[2], 10, 32)
			out = append(out, idRange{uint32(a), uint32(b), uint32(c)})
		}
		return out
	}
	return read("uid_map"), read("gid_map")
}

func mapBack(id uint32, m []idRange) uint32 {
	if len(m) == 0 {
		return id
	}
	for _, r := range m {
		if id >= r.outside && id-r.outside < r.size {
			return r.inside + id - r.outside
		}
	}
	return 65534
}

// namesIn reads the container's /etc/passwd or /etc/group (through its
// running root; the file is read, never followed out of the root as a
// link by us: /proc/PID/root resolves inside the container).
func namesIn(pid int, file string) map[uint32]string {
	b, err := os.ReadFile(filepath.Join(fmt.Sprintf("/proc/%d/root", pid), "etc", file))
	if err != nil {
		return nil
	}
	out := map[uint32]string{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			continue
		}
		if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := out[uint32(n)]; !dup {
				out[uint32(n)] = f[0]
			}
		}
	}
	return out
}

func nameOr(names map[uint32]string, id uint32) string {
	if n, ok := names[id]; ok {
		return n
	}
	return strconv.FormatUint(uint64(id), 10)
}

func uptimeSeconds() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[0], 64)
	return u
}
