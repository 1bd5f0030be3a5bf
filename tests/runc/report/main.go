// Command report reads the TAP output of runc's integration suite, run
// against runc and urun side by side (tests/runc/run.sh), prints per-file
// and total pass/fail/skip for both, writes the table into
// docs/CONFORMANCE.md between its markers, and exits 1 when urun fails a
// test that runc passed in the same run and the allow-list does not name.
//
// With -splice NAME -from FILE it only copies FILE's text into the
// document between NAME's markers (make conformance uses it for the
// runtime-tools table, so each suite rewrites its own part).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// result is one test's outcome in one run.
type result int

const (
	missing result = iota // not reached: the file stopped early
	pass
	fail
	skip
)

func (r result) String() string {
	return [...]string{"missing", "pass", "fail", "skip"}[r]
}

// run is one runtime in one mode: file → test name → result, in order.
type run struct {
	files map[string]map[string]result
	order map[string][]string
}

var tapLine = regexp.MustCompile(`^(not ok|ok) \d+ (.*?)(\s+# (?i:skip)\b.*)?$`)

// parseTAP reads one file's bats -t output.
func parseTAP(path string) (map[string]result, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	res := map[string]result{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := tapLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[2]
		r := pass
		switch {
		case m[3] != "":
			r = skip
		case m[1] == "not ok":
			r = fail
		}
		if _, seen := res[name]; !seen {
			order = append(order, name)
		}
		res[name] = r
	}
	return res, order, sc.Err()
}

func loadRun(dir string) (*run, error) {
	r := &run{files: map[string]map[string]result{}, order: map[string][]string{}}
	taps, err := filepath.Glob(filepath.Join(dir, "*.bats.tap"))
	if err != nil {
		return nil, err
	}
	for _, t := range taps {
		file := strings.TrimSuffix(filepath.Base(t), ".tap")
		res, order, err := parseTAP(t)
		if err != nil {
			return nil, err
		}
		r.files[file], r.order[file] = res, order
	}
	return r, nil
}

// counts is pass/fail/skip of a set of results.
type counts struct{ pass, fail, skip int }

func (c *counts) add(r result) {
	switch r {
	case pass:
		c.pass++
	case fail, missing:
		c.fail++
	case skip:
		c.skip++
	}
}

func (c counts) String() string { return fmt.Sprintf("%d / %d / %d", c.pass, c.fail, c.skip) }

// allowed is the allow-list: "FILE\tTEST\treason" lines, # comments.
type allowed map[string]string

func loadAllow(path string) (allowed, error) {
	a := allowed{}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || strings.TrimSpace(f[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want FILE<TAB>TEST<TAB>reason", path, i+1)
		}
		a[f[0]+"\t"+f[1]] = f[2]
	}
	return a, nil
}

// modeReport is one mode's comparison.
type modeReport struct {
	mode           string
	files          []string
	runc, urun     map[string]counts
	runcT, urunT   counts
	gate, allowHit []string // "file: test" lines
	urunOnly       []string // urun passes, runc does not
}

func compare(mode string, rc, ur *run, allow allowed) modeReport {
	m := modeReport{mode: mode, runc: map[string]counts{}, urun: map[string]counts{}}
	seen := map[string]bool{}
	for f := range rc.files {
		seen[f] = true
	}
	for f := range ur.files {
		seen[f] = true
	}
	for f := range seen {
		m.files = append(m.files, f)
	}
	sort.Strings(m.files)
	for _, f := range m.files {
		var c, u counts
		names := append([]string(nil), rc.order[f]...)
		for _, n := range ur.order[f] {
			if _, ok := rc.files[f][n]; !ok {
				names = append(names, n)
			}
		}
		for _, n := range names {
			r, ok := rc.files[f][n]
			if !ok {
				r = missing
			}
			x, ok := ur.files[f][n]
			if !ok {
				x = missing
			}
			c.add(r)
			u.add(x)
			m.runcT.add(r)
			m.urunT.add(x)
			if r == pass && x != pass && x != skip {
				line := f + ": " + n
				if why, ok := allow[f+"\t"+n]; ok {
					m.allowHit = append(m.allowHit, line+" — "+why)
				} else {
					m.gate = append(m.gate, line)
				}
			}
			if r == pass && x == skip {
				// A test runc runs and urun's run skipped: the same
				// host, so a skip means urun told the suite less.
				line := f + ": " + n + " (skipped with urun)"
				if why, ok := allow[f+"\t"+n]; ok {
					m.allowHit = append(m.allowHit, line+" — "+why)
				} else {
					m.gate = append(m.gate, line)
				}
			}
			if x == pass && r != pass {
				m.urunOnly = append(m.urunOnly, f+": "+n+" (runc: "+r.String()+")")
			}
		}
		m.runc[f], m.urun[f] = c, u
	}
	return m
}

func modeTitle(mode string) string {
	if mode == "none" {
		return `no idmap (ROOTLESS_FEATURES="")`
	}
	return `idmap (ROOTLESS_FEATURES=idmap)`
}

func (m modeReport) print() {
	fmt.Printf("== runc's suite, %s: pass / fail / skip\n", modeTitle(m.mode))
	fmt.Printf("%-32s %-16s %-16s\n", "file", "runc", "urun")
	for _, f := range m.files {
		fmt.Printf("%-32s %-16s %-16s\n", f, m.runc[f], m.urun[f])
	}
	fmt.Printf("%-32s %-16s %-16s\n", "total", m.runcT, m.urunT)
	for _, g := range m.allowHit {
		fmt.Println("allowed:", g)
	}
	for _, g := range m.gate {
		fmt.Println("GATE: urun fails what runc passes:", g)
	}
	// The closing line CI reads, urun's counts.
	fmt.Printf("runc-suite %s: %d passed, %d failed, %d skipped\n", m.mode, m.urunT.pass, m.urunT.fail, m.urunT.skip)
}

func (m modeReport) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n### %s\n\n", modeTitle(m.mode))
	fmt.Fprintf(b, "**runc %d passed, urun %d passed** (of %d tests; the rest skip: root, criu, cgroups, systemd).\n\n",
		m.runcT.pass, m.urunT.pass, m.runcT.pass+m.runcT.fail+m.runcT.skip)
	b.WriteString("| file | runc pass / fail / skip | urun pass / fail / skip |\n|---|---|---|\n")
	for _, f := range m.files {
		fmt.Fprintf(b, "| %s | %s | %s |\n", f, m.runc[f], m.urun[f])
	}
	fmt.Fprintf(b, "| **total** | **%s** | **%s** |\n", m.runcT, m.urunT)
	if len(m.allowHit) > 0 {
		b.WriteString("\nrunc passes, urun fails, allowed (tests/runc/allow.tsv):\n\n")
		for _, g := range m.allowHit {
			fmt.Fprintf(b, "- %s\n", g)
		}
	}
	if len(m.gate) > 0 {
		b.WriteString("\nrunc passes, urun fails, **not allowed** (the gate fails):\n\n")
		for _, g := range m.gate {
			fmt.Fprintf(b, "- %s\n", g)
		}
	}
	if len(m.urunOnly) > 0 {
		b.WriteString("\nurun passes, runc does not:\n\n")
		for _, g := range m.urunOnly {
			fmt.Fprintf(b, "- %s\n", g)
		}
	}
}

// splice replaces the text between NAME's markers in doc (appending the
// markers when the document has none).
func splice(doc, name, text string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	b, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(b)
	// A document of its own starts with its title; the part does not.
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "# ") {
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = strings.TrimSpace(text[i:])
		}
	}
	block := begin + "\n" + text + "\n" + end
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(end):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(doc, []byte(s), 0o644)
}

func main() {
	logs := flag.String("logs", "", "the harness's logs: MODE/RUNTIME/FILE.bats.tap")
	allowPath := flag.String("allow", "tests/runc/allow.tsv", "the allow-list")
	doc := flag.String("doc", "", "write the table into this Markdown file, between the runc-suite markers")
	wall := flag.Int("wall", 0, "the suite's wall time in seconds, for the document")
	spliceName := flag.String("splice", "", "only copy -from into -doc between this name's markers")
	from := flag.String("from", "", "with -splice: the text to copy")
	tripped := flag.String("tripped", "", "only write the gate's \"MODE FILE\" pairs into this file, one a line (the harness runs them again)")
	flag.Parse()
	if *spliceName != "" {
		b, err := os.ReadFile(*from)
		if err == nil {
			err = splice(*doc, *spliceName, string(b))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	if *tripped != "" {
		if err := writeTripped(*logs, *allowPath, *tripped); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	if err := report(*logs, *allowPath, *doc, *wall); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

var errGate = fmt.Errorf("urun fails tests that runc passes in the same run (GATE lines above): fix urun, or list a test in tests/runc/allow.tsv with its reason when it only checks runc's own output formats")

// compareAll compares the runs of every mode under logs.
func compareAll(logs, allowPath string) ([]modeReport, error) {
	allow, err := loadAllow(allowPath)
	if err != nil {
		return nil, err
	}
	var reports []modeReport
	for _, mode := range []string{"none", "idmap"} {
		if _, err := os.Stat(filepath.Join(logs, mode)); err != nil {
			continue
		}
		rc, err := loadRun(filepath.Join(logs, mode, "runc"))
		if err != nil {
			return nil, err
		}
		ur, err := loadRun(filepath.Join(logs, mode, "urun"))
		if err != nil {
			return nil, err
		}
		reports = append(reports, compare(mode, rc, ur, allow))
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("no runs under %s", logs)
	}
	return reports, nil
}

// writeTripped writes each mode and file with a gate line, once.
func writeTripped(logs, allowPath, path string) error {
	reports, err := compareAll(logs, allowPath)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, m := range reports {
		seen := map[string]bool{}
		for _, g := range m.gate {
			f, _, _ := strings.Cut(g, ": ")
			if !seen[f] {
				seen[f] = true
				fmt.Fprintf(&b, "%s %s\n", m.mode, f)
			}
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func report(logs, allowPath, doc string, wall int) error {
	reports, err := compareAll(logs, allowPath)
	if err != nil {
		return err
	}
	for _, m := range reports {
		m.print()
	}
	gated := false
	for _, m := range reports {
		gated = gated || len(m.gate) > 0
	}
	if doc != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "## runc's integration suite (runc v1.1.5 `tests/integration`)\n\n")
		fmt.Fprintf(&b, "Written by `make runc-suite` (tests/runc/run.sh) on %s; the whole run (both runtimes, both modes) took %d min %02d s.\n",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), wall/60, wall%60)
		b.WriteString("Every `.bats` file, rootless as an unprivileged user under a pseudo-terminal, with `RUNC=` Debian's runc 1.1.5 and `RUNC=` urun side by side in the same run.\n")
		b.WriteString("The gate: urun may not fail a test runc passes here unless tests/runc/allow.tsv names it with a reason (only runc's own help/version/debug output formats).\n")
		for _, m := range reports {
			m.markdown(&b)
		}
		if err := splice(doc, "runc-suite", b.String()); err != nil {
			return err
		}
	}
	if gated {
		return errGate
	}
	return nil
}
