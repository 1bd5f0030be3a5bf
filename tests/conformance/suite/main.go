// Command suite runs the opencontainers/runtime-tools validation tests
// (validation/X/X.t, built by tests/conformance/run.sh) against one or
// more OCI runtimes and reads their TAP output itself: Debian's prove
// rejects the suite's YAML diagnostic blocks. It prints one line per test
// and runtime, a closing "NAME: N passed, M failed" per runtime, and with
// -doc writes the table docs/CONFORMANCE.md.
//
// A test file passes when it exits 0, has a plan of at least one test,
// and every planned test printed "ok". A "1..0" plan (the suite's way of
// giving up, usually with an error block) is a failure, as is a timeout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type runtimeFlag []string

func (r *runtimeFlag) String() string     { return strings.Join(*r, ",") }
func (r *runtimeFlag) Set(s string) error { *r = append(*r, s); return nil }

// Result is one test file run against one runtime.
type Result struct {
	Test    string
	Pass    bool
	Ok      int
	NotOk   int
	Skip    int
	Plan    int
	Planned bool   // a plan line was printed (1..0 included)
	YAML    int    // diagnostic blocks
	Detail  string // why it failed: first failing assertion or error
}

func main() {
	var runtimes runtimeFlag
	suite := flag.String("suite", "", "runtime-tools source tree with the built validation executables")
	flag.Var(&runtimes, "runtime", "NAME=PATH of an OCI runtime to test (repeatable)")
	timeout := flag.Duration("timeout", 90*time.Second, "time limit for one test file")
	only := flag.String("run", "", "regexp: run only the tests whose name matches")
	reasons := flag.String("reasons", "", "TSV file: test<TAB>reason for tests expected to fail here")
	doc := flag.String("doc", "", "write the Markdown table here")
	logDir := flag.String("logs", "", "directory for each test's full output")
	flag.Parse()
	if *suite == "" || len(runtimes) == 0 {
		fmt.Fprintln(os.Stderr, "usage: suite -suite DIR -runtime NAME=PATH [-runtime ...] [-doc FILE]")
		os.Exit(2)
	}
	tests, err := findTests(*suite, *only)
	if err != nil {
		fatal(err)
	}
	why := map[string]string{}
	if *reasons != "" {
		if why, err = readReasons(*reasons); err != nil {
			fatal(err)
		}
	}
	names := make([]string, 0, len(runtimes))
	results := map[string]map[string]Result{}
	for _, rt := range runtimes {
		name, path, ok := strings.Cut(rt, "=")
		if !ok {
			fatal(fmt.Errorf("-runtime %q: want NAME=PATH", rt))
		}
		names = append(names, name)
		results[name] = map[string]Result{}
		for _, t := range tests {
			out, runErr := runTest(*suite, t, path, *timeout)
			if *logDir != "" {
				os.WriteFile(filepath.Join(*logDir, name+"-"+t+".log"), out, 0o644)
			}
			r := parseTAP(out)
			r.Test = t
			judge(&r, runErr)
			results[name][t] = r
			status := "PASS"
			if !r.Pass {
				status = "FAIL"
			}
			fmt.Printf("%-5s %-6s %-40s %s\n", name, status, t, r.Detail)
		}
	}
	if *doc != "" {
		if err := writeDoc(*doc, tests, names, results, why); err != nil {
			fatal(err)
		}
	}
	// The runtime under test closes the output: its line is the verdict.
	failedAny := false
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		p, f := count(results[n])
		fmt.Printf("%s: %d passed, %d failed\n", n, p, f)
		if i == 0 {
			for _, t := range tests {
				if !results[n][t].Pass && why[t] == "" {
					fmt.Fprintf(os.Stderr, "%s: %s failed with no known reason: %s\n", n, t, results[n][t].Detail)
					failedAny = true
				}
			}
		}
	}
	if failedAny {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "suite:", err)
	os.Exit(2)
}

func count(rs map[string]Result) (pass, fail int) {
	for _, r := range rs {
		if r.Pass {
			pass++
		} else {
			fail++
		}
	}
	return
}

// findTests lists validation/X/X.t under the suite tree.
func findTests(suite, only string) ([]string, error) {
	re, err := regexp.Compile(only)
	if err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(suite, "validation", "*", "*.t"))
	if err != nil {
		return nil, err
	}
	var tests []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".t")
		if filepath.Base(filepath.Dir(p)) == name && re.MatchString(name) {
			tests = append(tests, name)
		}
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no validation/X/X.t under %s: build them first (make runtimetest validation-executables)", suite)
	}
	sort.Strings(tests)
	return tests, nil
}

// runTest runs one test file from the suite's root, as the suite expects
// (it reads rootfs-ARCH.tar.gz and runtimetest from the working directory).
func runTest(suite, test, runtime string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("validation", test, test+".t"))
	cmd.Dir = suite
	cmd.Env = append(os.Environ(), "RUNTIME="+runtime)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.Bytes(), fmt.Errorf("timed out after %s", timeout)
	}
	return buf.Bytes(), err
}

var (
	planRe = regexp.MustCompile(`^1\.\.(\d+)`)
	okRe   = regexp.MustCompile(`^(not )?ok\b\s*(\d+)?\s*-?\s*(.*)$`)
)

// parseTAP reads the TAP stream; lines inside a YAML block ("  ---" to
// "  ...") are diagnostics, kept only to explain a failure.
func parseTAP(out []byte) Result {
	var r Result
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inYAML := false
	var yaml []string
	var firstFail, lastYAML string
	var other []string
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if inYAML {
			if trim == "..." {
				inYAML = false
				r.YAML++
				lastYAML = strings.Join(yaml, " ")
				if r.NotOk > 0 && firstFail != "" && !strings.Contains(firstFail, "|") {
					firstFail += " | " + lastYAML
				}
				yaml = nil
			} else {
				yaml = append(yaml, trim)
			}
			continue
		}
		if trim == "---" && strings.HasPrefix(line, " ") {
			inYAML = true
			continue
		}
		if m := planRe.FindStringSubmatch(line); m != nil {
			r.Plan, _ = strconv.Atoi(m[1])
			r.Planned = true
			continue
		}
		if m := okRe.FindStringSubmatch(line); m != nil {
			desc := m[3]
			switch {
			case m[1] != "":
				r.NotOk++
				if firstFail == "" {
					firstFail = "not ok: " + desc
				}
			case strings.Contains(strings.ToUpper(desc), "# SKIP"):
				r.Skip++
			default:
				r.Ok++
			}
			continue
		}
		if trim != "" && !strings.HasPrefix(trim, "#") {
			other = append(other, trim)
		}
	}
	if inYAML {
		lastYAML = strings.Join(yaml, " ")
	}
	switch {
	case firstFail != "":
		r.Detail = firstFail
	case lastYAML != "":
		r.Detail = lastYAML
	case len(other) > 0:
		r.Detail = strings.Join(other, " ")
	}
	return r
}

// judge decides pass/fail from the counts and the exit status.
func judge(r *Result, runErr error) {
	var reason string
	switch {
	case runErr != nil && strings.HasPrefix(runErr.Error(), "timed out"):
		reason = runErr.Error()
	case r.NotOk > 0:
		reason = fmt.Sprintf("%d of %d not ok", r.NotOk, r.Plan)
	case r.Planned && r.Plan == 0 && r.YAML > 0:
		// The lifecycle tests (hooks, *_fail) print "1..0" alone when
		// every check held, and an error block when one did not.
		reason = "1..0 with an error block"
	case runErr != nil:
		// util.Fatal: the error on stderr, exit 1, often no TAP at all.
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			reason = fmt.Sprintf("exit status %d", ee.ExitCode())
		} else {
			reason = runErr.Error()
		}
	case r.Planned && r.Plan == 0:
	case !r.Planned && r.Ok+r.NotOk+r.Skip == 0:
		// The *_fail tests print no TAP when the runtime refused the bad
		// config as it must: their verdict is the exit status.
	case r.Ok+r.Skip < r.Plan:
		reason = fmt.Sprintf("only %d of %d planned tests reported", r.Ok+r.Skip, r.Plan)
	case r.Ok == 0:
		reason = "every test skipped"
	}
	r.Pass = reason == ""
	if !r.Pass {
		if r.Detail != "" {
			reason += ": " + r.Detail
		}
		r.Detail = reason
	} else if r.Planned && r.Plan == 0 {
		r.Detail = "1..0 and no error block: every lifecycle check held"
	} else if r.Ok+r.Skip == 0 {
		r.Detail = "exit 0, no TAP (the bad config was refused)"
	} else if r.Skip > 0 {
		r.Detail = fmt.Sprintf("%d ok, %d skipped", r.Ok, r.Skip)
	} else {
		r.Detail = fmt.Sprintf("%d ok", r.Ok)
	}
	const max = 300
	if len(r.Detail) > max {
		r.Detail = r.Detail[:max] + "…"
	}
}

func readReasons(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, why, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want test<TAB>reason", path, i+1)
		}
		m[t] = why
	}
	return m, nil
}

func writeDoc(path string, tests, names []string, results map[string]map[string]Result, why map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# OCI runtime conformance\n\n")
	fmt.Fprintf(&b, "Written by `make conformance` (tests/conformance/run.sh) on %s.\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "The opencontainers/runtime-tools validation suite, run as an unprivileged user,\n")
	fmt.Fprintf(&b, "against urun and, for comparison in the same run, rootless runc (Debian's\n")
	fmt.Fprintf(&b, "runc, started through a wrapper that adds a user namespace).\n\n")
	for i := len(names) - 1; i >= 0; i-- {
		p, f := count(results[names[i]])
		fmt.Fprintf(&b, "- **%s**: %d passed, %d failed\n", names[i], p, f)
	}
	fmt.Fprintf(&b, "\nReasons for a failure that is expected on this host: *needs real root*,\n")
	fmt.Fprintf(&b, "*needs cgroup controllers* (hybrid v1/v2, nothing delegated to the user),\n")
	fmt.Fprintf(&b, "*needs SELinux/AppArmor* (neither is enabled here). The others name a fault of the\n")
	fmt.Fprintf(&b, "suite itself or a deliberate choice (tests/conformance/reasons.tsv); a urun\n")
	fmt.Fprintf(&b, "failure with no listed reason is a urun bug and fails the run. A test passes\n")
	fmt.Fprintf(&b, "when every check it planned says ok; checks skipped inside runtimetest (\"N\n")
	fmt.Fprintf(&b, "skipped\": fields the config does not set, and the AppArmor and SELinux\n")
	fmt.Fprintf(&b, "checks, since neither is enabled here) do not count against it.\n\n")
	b.WriteString(docNotes)
	fmt.Fprintf(&b, "| test |")
	for _, n := range names {
		fmt.Fprintf(&b, " %s |", n)
	}
	fmt.Fprintf(&b, " reason (urun failures) / detail |\n|---|")
	for range names {
		fmt.Fprintf(&b, "---|")
	}
	fmt.Fprintf(&b, "---|\n")
	for _, t := range tests {
		fmt.Fprintf(&b, "| %s |", t)
		for _, n := range names {
			if results[n][t].Pass {
				fmt.Fprintf(&b, " pass |")
			} else {
				fmt.Fprintf(&b, " fail |")
			}
		}
		r := results[names[0]][t]
		detail := r.Detail
		if !r.Pass {
			reason := why[t]
			if reason == "" {
				reason = "urun bug"
			}
			detail = "**" + reason + "** — " + detail
		}
		detail = strings.NewReplacer("|", "\\|", "\n", " ").Replace(detail)
		fmt.Fprintf(&b, " %s |\n", detail)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// docNotes: what the suite exercises that urun does in its own way.
const docNotes = `How to run it: ` + "`make conformance`" + ` as root (it installs runc and the
suite, creates the user urun-conformance, and takes about five minutes);
` + "`RUN=regex`" + ` limits the tests, ` + "`RUNTIMES=urun`" + ` skips runc, ` + "`KEEP_LOGS=DIR`" + `
keeps each test's full output. A urun failure with no reason listed in
tests/conformance/reasons.tsv makes it exit non-zero.

Behaviour the suite checks that is worth knowing:
- **Hooks**: createRuntime runs in ` + "`create`" + ` on the host; createContainer in the
  init after its mounts, before pivot_root; **prestart runs in ` + "`start`" + `** (state
  ` + "`created`" + `, before the process runs: the suite checks it waits for start,
  where runc runs it in create); startContainer in the container just
  before the exec; poststart after start (a failure is a warning); poststop
  in ` + "`delete`" + ` after the container is gone (a failure is a warning, the
  other hooks still run). Each gets the state JSON on stdin, its own args
  and env, and is killed after its timeout. A failing prestart stops and
  deletes the container.
- **Rootless id maps**: a config whose linux.uidMappings/gidMappings name
  host ids the user does not own is read in the user's rootless id space
  (0 is the user, 1… the subordinate ids, as inside ` + "`podman unshare`" + `); the
  container runs, and /proc/self/uid_map inside shows the real host ids.
- ` + "`delete`" + ` of a created container without --force succeeds, as with runc.
- **Passes that check less than their name says**: linux_mount_label and
  linux_process_apparmor_profile pass with their SELinux/AppArmor checks
  skipped, since neither is enabled here.

`
