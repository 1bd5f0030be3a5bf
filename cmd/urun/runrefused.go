package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// refusedRunFlags are podman 4.3.1's `run --help` flags urun does not
// implement: each is registered (hidden) so that a script using it gets
// one line saying why, exit 125, instead of pflag's bare "unknown flag"
// and never a silent ignore (issue 23). docs/RUN-FLAGS.md lists them.
var refusedRunFlags = map[string]string{
	"annotation":            "OCI annotations are not recorded yet; use --label",
	"arch":                  "urun runs only this host's architecture; use --platform",
	"attach":                "urun attaches all of stdin/stdout/stderr (-i for stdin); no per-stream choice",
	"authfile":              "use `urun login` (credentials in urun's own auth file)",
	"blkio-weight-device":   "per-device block I/O weights are not implemented; use --blkio-weight",
	"cgroup-conf":           "raw cgroup settings are not implemented; use the limit flags (--memory, --cpus...)",
	"cgroup-parent":         "urun places the container in its delegated cgroup itself (docs/CGROUPS.md)",
	"cgroupns":              "the container always gets its own cgroup namespace",
	"chrootdirs":            "chroot directories are not implemented",
	"conmon-pidfile":        "urun has no conmon; use --cidfile and `urun inspect`",
	"cpu-period":            "CFS period/quota are not exposed; use --cpus",
	"cpu-quota":             "CFS period/quota are not exposed; use --cpus",
	"cpu-rt-period":         "real-time scheduling is not available to an unprivileged user",
	"cpu-rt-runtime":        "real-time scheduling is not available to an unprivileged user",
	"detach-keys":           "urun has no detach key sequence; run with -d and use `urun attach`",
	"device-cgroup-rule":    "device cgroup rules need root; --device binds a node you may open",
	"device-read-bps":       "per-device I/O limits are not implemented",
	"device-read-iops":      "per-device I/O limits are not implemented",
	"device-write-bps":      "per-device I/O limits are not implemented",
	"device-write-iops":     "per-device I/O limits are not implemented",
	"disable-content-trust": "no content trust in urun (a docker no-op)",
	"dns-option":            "resolv.conf options are not implemented; use --dns",
	"dns-search":            "resolv.conf search domains are not implemented; use --dns",
	"env-host":              "copying the whole host environment is not implemented; use -e KEY",
	"env-merge":             "env templates are not implemented; use -e KEY=VALUE",
	"expose":                "EXPOSE metadata is not recorded; use -p",
	"gidmap":                "custom id maps are not implemented; use --userns",
	"hostuser":              "adding host users to /etc/passwd is not implemented; --userns=keep-id adds you",
	"http-proxy":            "proxy variables are not copied; use -e HTTP_PROXY",
	"image-volume":          "image VOLUME handling is not selectable",
	"init-path":             "urun's init is its own urun-init; use --init",
	"ip":                    "urun's user-mode networks have one fixed address",
	"ip6":                   "urun's user-mode networks have one fixed address",
	"log-driver":            "urun logs to its own log file only",
	"log-opt":               "urun logs to its own log file only",
	"mac-address":           "urun's user-mode networks have one fixed address",
	"memory-swappiness":     "swappiness is not implemented",
	"network-alias":         "urun has no container networks with DNS",
	"no-hosts":              "urun always writes /etc/hosts",
	"oom-kill-disable":      "disabling the OOM killer is not available to an unprivileged user",
	"oom-score-adj":         "oom_score_adj is not implemented",
	"os":                    "urun runs only this host's OS; use --platform",
	"passwd":                "urun always adds the passwd entry it needs",
	"passwd-entry":          "passwd entry templates are not implemented",
	"personality":           "execution domains are not implemented",
	"pidfile":               "use --cidfile and `urun inspect`",
	"pod":                   "urun has no pods",
	"pod-id-file":           "urun has no pods",
	"quiet":                 "urun prints no pull progress to suppress",
	"replace":               "not implemented; use `urun rm -f NAME` first",
	"requires":              "container dependencies are not implemented",
	"rmi":                   "not implemented; use `urun rmi` after the container exits",
	"sdnotify":              "no systemd notify support",
	"seccomp-policy":        "image seccomp policies are not implemented; use --security-opt seccomp=",
	"secret":                "secrets are not implemented; use -v FILE:/run/secrets/NAME:ro",
	"sig-proxy":             "urun always forwards signals to a foreground container",
	"subgidname":            "urun uses your own /etc/subgid entry",
	"subuidname":            "urun uses your own /etc/subuid entry",
	"systemd":               "systemd mode is not implemented",
	"timeout":               "a run timeout is not implemented; use timeout(1)",
	"tz":                    "not implemented; use -e TZ=ZONE and -v /usr/share/zoneinfo",
	"uidmap":                "custom id maps are not implemented; use --userns",
	"umask":                 "not implemented; set it in the command",
	"unsetenv":              "not implemented",
	"unsetenv-all":          "not implemented",
	"variant":               "urun runs only this host's platform; use --platform",
	"volumes-from":          "not implemented; repeat the -v flags",
}

// refusedShort are the refused flags' short forms, as podman's.
var refusedShort = map[string]string{"attach": "a", "quiet": "q"}

// addRefusedRunFlags registers the refused flags, hidden, taking a value
// or none (so `--sig-proxy=false` and `--annotation k=v` parse alike).
func addRefusedRunFlags(fs *pflag.FlagSet) {
	for name := range refusedRunFlags {
		if fs.Lookup(name) != nil {
			continue
		}
		fs.StringP(name, refusedShort[name], "", refusedRunFlags[name])
		fs.Lookup(name).NoOptDefVal = " "
		_ = fs.MarkHidden(name)
	}
}

// refusedRunFlag is the one-line error for the first refused flag given.
func refusedRunFlag(fs *pflag.FlagSet) error {
	var bad []string
	fs.Visit(func(f *pflag.Flag) {
		if _, ok := refusedRunFlags[f.Name]; ok {
			bad = append(bad, f.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("--%s is not supported by urun: %s", bad[0], refusedRunFlags[bad[0]])
}

// flagTable is docs/RUN-FLAGS.md: every flag of fs, supported or refused.
func flagTable(cmd string, fs *pflag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# `urun %s` flags\n\nGenerated from urun's flag set by `make flag-table` (`urun __flag-table %s`); a unit test fails when it drifts. Refused flags are podman 4.3.1's `run --help` flags urun does not implement: urun exits 125 with the reason.\n\n", cmd, cmd)
	b.WriteString("| Flag | Short | Status | Help / reason |\n|---|---|---|---|\n")
	var rows []string
	fs.VisitAll(func(f *pflag.Flag) {
		short, status, text := "", "supported", f.Usage
		if f.Shorthand != "" {
			short = "`-" + f.Shorthand + "`"
		}
		if reason, ok := refusedRunFlags[f.Name]; ok {
			status, text = "refused", reason
		}
		text = strings.ReplaceAll(strings.ReplaceAll(text, "|", `\|`), "\n", " ")
		rows = append(rows, fmt.Sprintf("| `--%s` | %s | %s | %s |\n", f.Name, short, status, text))
	})
	sort.Strings(rows)
	for _, r := range rows {
		b.WriteString(r)
	}
	return b.String()
}

func init() {
	register("__flag-table", func() *command {
		fs := pflag.NewFlagSet("__flag-table", pflag.ContinueOnError)
		return &command{name: "__flag-table", short: "", usage: "__flag-table COMMAND", flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 || (args[0] != "run" && args[0] != "create") {
					return usageError(fmt.Errorf("__flag-table takes run or create"), "urun __flag-table run")
				}
				fmt.Print(flagTable(args[0], newRunCommand(args[0]).flags))
				return nil
			}}
	})
}
