// Command report turns the raw results of bench/run.sh (hyperfine JSON and
// the harness's own JSON) into results.md, ratios.json and start.png in the
// same directory.
//
// Usage: report -dir _build/bench
//
// Ratios are urun/peer of medians taken in the same hyperfine call (for
// throughput: urun's rate / the peer's rate), so they compare runs made
// minutes apart on the same machine; absolute times do not transfer.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("dir", "_build/bench", "directory with run.sh's output")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// result is one hyperfine command's figures, in milliseconds.
type result struct {
	Name   string  `json:"name"`
	Median float64 `json:"median_ms"`
	P95    float64 `json:"p95_ms"`
	Runs   int     `json:"runs"`
}

// hyperfineFile is the part of hyperfine's --export-json we read.
type hyperfineFile struct {
	Results []struct {
		Command string    `json:"command"`
		Times   []float64 `json:"times"`
	} `json:"results"`
}

// ratio is one urun-versus-peer comparison.
type ratio struct {
	Bench  string   `json:"bench"`
	Urun   string   `json:"urun"`
	Peer   string   `json:"peer"`
	Value  *float64 `json:"ratio"` // nil: a side is missing
	Target string   `json:"target,omitempty"`
	Met    *bool    `json:"met,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// pair names two rows of one benchmark; max is the target (0: none).
type pair struct {
	bench, urun, peer string
	max               float64
}

// pairs are the comparisons the issues ask for (targets from issue 10,
// tightened by issue 25 where it says so).
var pairs = []pair{
	{"B1-nonet", "urun run --bundle", "runc run", 0.4}, // issue 25 (issue 10: 0.5)
	{"B1-nonet", "urun run --bundle (subids)", "runc run (subids)", 0.5},
	{"B1-nonet", "urun run --rootfs", "runc run (subids)", 0.5},
	{"B1-nonet", "urun run --bundle", "bwrap", 2.0}, // issue 25 (issue 10: 2.5)
	{"B1-nonet", "urun run --rootfs", "bwrap", 2.5},
	{"B1-net", "urun run --bundle", "runc run", 0.5},
	{"B1-net", "urun run --rootfs", "bwrap", 2.5},
	{"B2", "urun run IMG", "podman run IMG", 0.1},
	// issue 25: the default network costs at most half of a run again,
	// and stays a tenth of podman's default-network run.
	{"B2-net", "urun run IMG (default network)", "urun run IMG --network none", 1.5},
	{"B2-net", "urun run IMG (default network)", "urun run IMG --network slirp4netns", 0},
	{"B2-net", "urun run IMG (default network)", "podman run IMG (default network)", 0.1},
	// issue 25: a real Debian 12 image, both engines' default network.
	{"B2-debian", "urun run DEBIAN (default network)", "podman run DEBIAN (default network)", 0.1},
	{"B3-mkdir", "urun native overlay", "host tmpfs (/dev/shm)", 1.1}, // the upper layer is a tmpfs
	{"B3-mkdir", "urun native overlay", "host directory (ext4)", 0},
	{"B3-mkdir", "urun fuse-overlayfs", "fuse-overlayfs direct", 1.0},
	{"B3-mkdir", "urun bind", "host directory (ext4)", 0},
	{"B3-write", "urun native overlay", "host tmpfs (/dev/shm)", 1.1}, // the upper layer is a tmpfs
	{"B3-write", "urun native overlay", "host directory (ext4)", 0},
	{"B3-write", "urun fuse-overlayfs", "fuse-overlayfs direct", 1.0},
	{"B3-write", "urun bind", "host directory (ext4)", 0},
	{"B3-tar", "urun native overlay", "host directory (ext4)", 1.1},
	{"B3-tar", "urun fuse-overlayfs", "fuse-overlayfs direct", 1.0},
	{"B3-tar", "urun bind", "host directory (ext4)", 0},
	{"B4", "urun pull", "podman pull", 0},
	{"B4-run", "urun pull + first run", "podman pull + first run", 0.5}, // issue 24
}

// throughputPairs compare B6 rates: urun's containers/s over the peer's.
var throughputPairs = []pair{
	{"B6", "urun run IMG", "podman run IMG", 0},
	{"B6", "urun run --bundle", "runc run", 0},
	{"B6", "urun run --rootfs", "bwrap", 0},
}

// order is how the benchmarks appear in results.md.
var order = []struct{ name, title string }{
	{"B0", "B0 floor: process, user namespace, bubblewrap, urun's binary"},
	{"B1-nonet", "B1 runtime level, busybox rootfs, no network namespace, no tty"},
	{"B1-net", "B1 runtime level, with a network namespace"},
	{"B2", "B2 engine level, image local and warm"},
	{"B2-net", "B2-net engine level with the default network (pasta) against none, slirp4netns and podman's default"},
	{"B2-debian", "B2-debian a real Debian 12 image (debootstrap minbase), default network"},
	{"profile", "urun start-up profile (whole runs)"},
	{"B3-mkdir", "B3 mkdir + rmdir inside the rootfs"},
	{"B3-write", "B3 write with fsync inside the rootfs"},
	{"B3-tar", "B3 tar cf /dev/null /bin /lib"},
	{"B4", "B4 pull from a loopback registry (podman also unpacks; urun unpacks at first run)"},
	{"B4-run", "B4 pull + first run of the pulled image"},
}

func run(dir string) error {
	benches := map[string][]result{}
	for _, o := range order {
		rs, err := readHyperfine(filepath.Join(dir, o.name+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		benches[o.name] = rs
	}
	var b5 map[string]memResult
	if err := readJSON(filepath.Join(dir, "b5.json"), &b5); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b6 map[string]rateResult
	if err := readJSON(filepath.Join(dir, "b6.json"), &b6); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var meta map[string]any
	if err := readJSON(filepath.Join(dir, "meta.json"), &meta); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	notes, _ := os.ReadFile(filepath.Join(dir, "notes.tsv"))

	var b8 *diskResult
	if err := readJSON(filepath.Join(dir, "b8.json"), &b8); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ratios := append(compare(benches, b5, b6), compareDisk(b8)...)
	var md strings.Builder
	writeMeta(&md, meta)
	writeRatios(&md, ratios)
	for _, o := range order {
		if rs, ok := benches[o.name]; ok {
			writeTable(&md, o.title, rs)
		}
	}
	writeMemory(&md, b5)
	writeRates(&md, b6)
	writeDisk(&md, b8)
	for _, p := range []struct{ file, title string }{
		{"profile-rootfs.txt", "`urun --debug run --rootfs --network host ROOTFS /bin/true`"},
		{"profile-image.txt", "`urun --debug run --network none oci:IMG true`"},
		{"profile-net.txt", "`urun --debug run oci:IMG true` (default network)"},
	} {
		phases, err := readPhases(filepath.Join(dir, p.file))
		if err == nil && len(phases) > 0 {
			writePhases(&md, p.title, phases)
		}
	}
	writeDerived(&md, benches["profile"])
	if len(notes) > 0 {
		md.WriteString("\n## Notes from the run\n\n")
		for _, l := range strings.Split(strings.TrimSpace(string(notes)), "\n") {
			k, v, _ := strings.Cut(l, "\t")
			fmt.Fprintf(&md, "- %s: %s\n", k, v)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	out, err := json.MarshalIndent(map[string]any{"meta": meta, "ratios": ratios, "benchmarks": benches, "memory": b5, "throughput": b6, "disk": b8}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ratios.json"), out, 0o644); err != nil {
		return err
	}
	return plot(dir, benches)
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

func readHyperfine(p string) ([]result, error) {
	var f hyperfineFile
	if err := readJSON(p, &f); err != nil {
		return nil, err
	}
	var rs []result
	for _, r := range f.Results {
		ms := make([]float64, len(r.Times))
		for i, t := range r.Times {
			ms[i] = t * 1000
		}
		rs = append(rs, result{Name: r.Command, Median: quantile(ms, 0.5), P95: quantile(ms, 0.95), Runs: len(ms)})
	}
	return rs, nil
}

// quantile interpolates linearly between the closest ranks (NaN for none).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func find(rs []result, name string) (result, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return result{}, false
}

// memResult is one engine's line of b5.json.
type memResult struct {
	Containers   int      `json:"containers"`
	HelperPSS    float64  `json:"helper_pss_kib"`
	PerContainer *float64 `json:"per_container_kib"`
	// StartMs is the mean time of one detached start.
	StartMs *float64 `json:"start_ms"`
	Helpers string   `json:"helpers"`
}

// rateResult is one runtime's line of b6.json.
type rateResult struct {
	PerWorker int       `json:"per_worker"`
	Workers   int       `json:"workers"`
	Failures  int       `json:"failures"`
	Rates     []float64 `json:"rates"`
}

func compare(benches map[string][]result, b5 map[string]memResult, b6 map[string]rateResult) []ratio {
	var out []ratio
	for _, p := range pairs {
		r := ratio{Bench: p.bench, Urun: p.urun, Peer: p.peer}
		u, uok := find(benches[p.bench], p.urun)
		v, vok := find(benches[p.bench], p.peer)
		switch {
		case !uok:
			r.Note = "urun side not measured"
		case !vok:
			r.Note = "peer not measured"
		default:
			x := u.Median / v.Median
			r.Value = &x
		}
		setTarget(&r, p.max)
		out = append(out, r)
	}
	{
		r := ratio{Bench: "B5", Urun: "urun", Peer: "podman", Note: "helper PSS per detached container"}
		u, uok := b5["urun"]
		v, vok := b5["podman"]
		switch {
		case !uok || u.PerContainer == nil:
			r.Note = "urun side not measured (urun run -d)"
		case !vok || v.PerContainer == nil || *v.PerContainer == 0:
			r.Note = "podman side not measured"
		default:
			x := *u.PerContainer / *v.PerContainer
			r.Value = &x
		}
		setTarget(&r, 1)
		out = append(out, r)
	}
	{
		// The shared supervisor must not make run -d slower than a
		// supervisor per container did.
		r := ratio{Bench: "B5-start", Urun: "urun", Peer: "urun-own", Note: "mean `run -d` time, shared supervisor over one per container"}
		u, uok := b5["urun"]
		v, vok := b5["urun-own"]
		switch {
		case !uok || !vok || u.StartMs == nil || v.StartMs == nil || *v.StartMs == 0:
			r.Note = "not measured"
		default:
			x := *u.StartMs / *v.StartMs
			r.Value = &x
		}
		setTarget(&r, 1)
		out = append(out, r)
	}
	for _, p := range throughputPairs {
		r := ratio{Bench: p.bench, Urun: p.urun, Peer: p.peer, Note: "containers/s, urun over peer (higher is better)"}
		u, uok := b6[p.urun]
		v, vok := b6[p.peer]
		switch {
		case !uok || !vok:
			r.Note = "not measured"
		case u.Failures > 0 || v.Failures > 0:
			r.Note = fmt.Sprintf("runs failed (urun %d, peer %d): no ratio", u.Failures, v.Failures)
		default:
			x := quantile(u.Rates, 0.5) / quantile(v.Rates, 0.5)
			r.Value = &x
		}
		out = append(out, r)
	}
	return out
}

func setTarget(r *ratio, max float64) {
	if max == 0 {
		return
	}
	r.Target = fmt.Sprintf("≤ %.3g", max)
	if r.Value != nil {
		met := *r.Value <= max
		r.Met = &met
	}
}

func writeMeta(w *strings.Builder, meta map[string]any) {
	w.WriteString("# urun benchmark results\n\n")
	if meta == nil {
		return
	}
	if q, _ := meta["quick"].(bool); q {
		w.WriteString("**Quick mode (BENCH_QUICK=1): a harness check, not a measurement.**\n\n")
	}
	fmt.Fprintf(w, "%v, kernel %v, %v × %v, %v, /sys/fs/cgroup is %v.\n\n", meta["date"], meta["kernel"], meta["ncpu"], meta["cpu"], meta["mem"], meta["cgroupfs"])
	if v, ok := meta["versions"].(map[string]any); ok {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.WriteString("| component | version |\n|---|---|\n")
		for _, k := range keys {
			fmt.Fprintf(w, "| %s | %v |\n", k, v[k])
		}
	}
}

func writeRatios(w *strings.Builder, rs []ratio) {
	w.WriteString("\n## Ratios urun / peer (same run; below 1 is faster or smaller)\n\n")
	w.WriteString("| bench | urun | peer | ratio | target | met |\n|---|---|---|---:|---|---|\n")
	for _, r := range rs {
		v := "n/a"
		if r.Value != nil {
			v = fmt.Sprintf("%.2f", *r.Value)
		}
		met := ""
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*r.Met]
		}
		if r.Note != "" && r.Value == nil {
			met = r.Note
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Bench, r.Urun, r.Peer, v, r.Target, met)
	}
}

func writeTable(w *strings.Builder, title string, rs []result) {
	fmt.Fprintf(w, "\n## %s\n\n| command | median ms | p95 ms | runs |\n|---|---:|---:|---:|\n", title)
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %d |\n", r.Name, ms(r.Median), ms(r.P95), r.Runs)
	}
}

func ms(x float64) string {
	if x >= 100 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

func writeMemory(w *strings.Builder, b5 map[string]memResult) {
	if len(b5) == 0 {
		return
	}
	w.WriteString("\n## B5 idle memory: helper processes of detached `sleep` containers\n\n")
	w.WriteString("| engine | containers | helper PSS total KiB | per container KiB | mean start ms | helper processes |\n|---|---:|---:|---:|---:|---|\n")
	for _, k := range sortedKeys(b5) {
		m := b5[k]
		per, start := "n/a", "n/a"
		if m.PerContainer != nil {
			per = fmt.Sprintf("%.0f", *m.PerContainer)
		}
		if m.StartMs != nil {
			start = fmt.Sprintf("%.1f", *m.StartMs)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s |\n", k, m.Containers, m.HelperPSS, per, start, m.Helpers)
	}
}

func writeRates(w *strings.Builder, b6 map[string]rateResult) {
	if len(b6) == 0 {
		return
	}
	w.WriteString("\n## B6 throughput: 2 workers × N sequential `run true`\n\n")
	w.WriteString("| runtime | N per worker | containers/s (median of repeats) | repeats | failed runs |\n|---|---:|---:|---:|---:|\n")
	for _, k := range sortedKeys(b6) {
		r := b6[k]
		fmt.Fprintf(w, "| %s | %d | %.1f | %d | %d |\n", k, r.PerWorker, quantile(r.Rates, 0.5), len(r.Rates), r.Failures)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// phase is one line of `urun --debug` timing output, over many runs.
type phase struct {
	Name  string
	Times []float64
}

// A mark is "urun: NAME  12.34 ms", or "urun: NAME  +1.23 ms after exit"
// for the exit path, optionally followed by a parenthesised comment.
var phaseLine = regexp.MustCompile(`^(urun(?:-init)?: .+?)\s+\+?([0-9.]+) ms( after exit)?(?: \(.*\))?$`)

// parsePhases reads `urun --debug` output: "urun: clone+maps   11.08 ms",
// "urun-init: mounts   2.63 ms"… in first-seen order.
func parsePhases(lines []string) []phase {
	var out []phase
	idx := map[string]int{}
	for _, l := range lines {
		m := phaseLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		name := m[1]
		if m[3] != "" {
			name += " (after exit)"
		}
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, phase{Name: name})
		}
		out[i].Times = append(out[i].Times, v)
	}
	return out
}

func readPhases(p string) ([]phase, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return parsePhases(lines), s.Err()
}

func writePhases(w *strings.Builder, title string, ps []phase) {
	fmt.Fprintf(w, "\n### Phases of %s\n\n", title)
	w.WriteString("`urun:` lines count from just before the clone, those marked (after exit) from the container's exit; `urun-init:` lines are the time since the previous mark inside the container, the first one (runtime up: clone, exec and Go runtime start of urun-init) since the clone.\n\n")
	w.WriteString("| phase | median ms | p95 ms | runs |\n|---|---:|---:|---:|\n")
	for _, p := range ps {
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %d |\n", p.Name, quantile(p.Times, 0.5), quantile(p.Times, 0.95), len(p.Times))
	}
}

// writeDerived splits a whole run into what the profile's rows isolate.
func writeDerived(w *strings.Builder, rs []result) {
	get := func(n string) float64 {
		r, ok := find(rs, n)
		if !ok {
			return math.NaN()
		}
		return r.Median
	}
	ver := get("urun --version")
	dry := get("urun run --dry-run --rootfs")
	drySingle := get("urun run --dry-run --rootfs --userns host-single")
	dryImg := get("urun run --dry-run IMG")
	single := get("urun run --rootfs --userns host-single")
	full := get("urun run --rootfs")
	img := get("urun run IMG")
	if math.IsNaN(ver) || math.IsNaN(full) {
		return
	}
	w.WriteString("\n### Where a `urun run --rootfs` goes (medians, differences of whole runs)\n\n| part | ms |\n|---|---:|\n")
	fmt.Fprintf(w, "| urun binary start + exit (`urun --version`) | %.1f |\n", ver)
	fmt.Fprintf(w, "| flags, idmap, spec (`--dry-run` − version) | %.1f |\n", dry-ver)
	if !math.IsNaN(drySingle) {
		fmt.Fprintf(w, "| of which getsubids ×2 (`--dry-run` − `--dry-run --userns host-single`) | %.1f |\n", dry-drySingle)
	}
	fmt.Fprintf(w, "| container start and exit (run − dry-run) | %.1f |\n", full-dry)
	fmt.Fprintf(w, "| getsubids ×2 + newuidmap + newgidmap (run − `run --userns host-single`) | %.1f |\n", full-single)
	if !math.IsNaN(drySingle) {
		fmt.Fprintf(w, "| of which newuidmap + newgidmap | %.1f |\n", (full-single)-(dry-drySingle))
	}
	fmt.Fprintf(w, "| image path extra: store lookup (`--dry-run IMG` − `--dry-run --rootfs`) | %.1f |\n", dryImg-dry)
	fmt.Fprintf(w, "| image path extra: whole run (`run IMG` − `run --rootfs`; IMG also has a netns) | %.1f |\n", img-full)
}

// plot writes start.dat and, when gnuplot is installed, start.png: the
// median start latency of each runtime in B0, B1 and B2.
func plot(dir string, benches map[string][]result) error {
	var dat strings.Builder
	dat.WriteString("# label median_ms p95_ms\n")
	rows := 0
	for _, b := range []string{"B0", "B1-nonet", "B1-net", "B2", "B2-net"} {
		for _, r := range benches[b] {
			fmt.Fprintf(&dat, "%q %.3f %.3f\n", b+": "+r.Name, r.Median, r.P95)
			rows++
		}
	}
	datPath := filepath.Join(dir, "start.dat")
	if err := os.WriteFile(datPath, []byte(dat.String()), 0o644); err != nil {
		return err
	}
	if rows == 0 {
		return nil
	}
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		fmt.Fprintln(os.Stderr, "report: gnuplot not installed, no start.png")
		return nil
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1100,700 noenhanced font ",10"
set output %q
set title "start latency per runtime (median, bar; p95, whisker), ms, log scale; urun in blue"
set style fill solid 0.6
set boxwidth 0.6
set logscale x
set xlabel "ms"
set ytics nomirror
set grid xtics
unset key
set yrange [-1:*] reverse
set xrange [0.3:*]
plot %q using (column(2)):0:(0.3):(column(2)):($0-0.3):($0+0.3):(strstrt(strcol(1), "urun") > 0 ? 0x3060c0 : 0xa0a0a0):yticlabels(1) with boxxyerror lc rgb variable, \
     '' using (column(2)):0:(column(2)):(column(3)) with xerrorbars pt 0
`, filepath.Join(dir, "start.png"), datPath)
	cmd := exec.Command(gp)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}

// diskResult is b8.json: disk use of N images on one base, and host
// Shmem for a container's writes.
type diskResult struct {
	Images   int                 `json:"images"`
	BaseMiB  int                 `json:"base_mib"`
	WriteMiB int                 `json:"write_mib"`
	Disk     map[string]*float64 `json:"disk"`
	ShmemKiB map[string]*float64 `json:"shmem_kib"`
}

// compareDisk: urun's layer store against podman's graph root (issue 24:
// at most 1.05), and urun's whole data directory, which also keeps the
// compressed blobs (no target).
func compareDisk(d *diskResult) []ratio {
	if d == nil {
		return nil
	}
	var out []ratio
	for _, p := range []pair{
		{"B8", "urun layer store", "podman graph root", 1.05},
		{"B8", "urun data directory", "podman graph root", 0},
	} {
		r := ratio{Bench: p.bench, Urun: p.urun, Peer: p.peer, Note: fmt.Sprintf("disk, %d images on one base", d.Images)}
		u, v := d.Disk[p.urun], d.Disk[p.peer]
		if u != nil && v != nil && *v > 0 {
			x := *u / *v
			r.Value = &x
		} else {
			r.Note = "not measured"
		}
		setTarget(&r, p.max)
		out = append(out, r)
	}
	return out
}

func writeDisk(w *strings.Builder, d *diskResult) {
	if d == nil {
		return
	}
	fmt.Fprintf(w, "\n## B8 disk use of %d images on one base (busybox + %d MiB; 1 MiB of its own each), and RAM for writes\n\n", d.Images, d.BaseMiB)
	w.WriteString("| store | MB on disk |\n|---|---:|\n")
	for _, k := range sortedKeys(d.Disk) {
		v := "n/a"
		if d.Disk[k] != nil {
			v = fmt.Sprintf("%.1f", *d.Disk[k]/1e6)
		}
		fmt.Fprintf(w, "| %s | %s |\n", k, v)
	}
	fmt.Fprintf(w, "\n| writable layer | host Shmem growth while a --rm container holds %d MiB it wrote, MiB |\n|---|---:|\n", d.WriteMiB)
	for _, k := range sortedKeys(d.ShmemKiB) {
		v := "n/a"
		if d.ShmemKiB[k] != nil {
			v = fmt.Sprintf("%.1f", *d.ShmemKiB[k]/1024)
		}
		fmt.Fprintf(w, "| %s | %s |\n", k, v)
	}
}
