package engine

// commit --change: the Dockerfile instructions docker commit applies to
// the new image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
// STOPSIGNAL, USER, VOLUME, WORKDIR), with the Dockerfile's forms: a
// JSON array or a shell command for CMD and ENTRYPOINT, KEY=VALUE pairs
// (quotes allowed) or the older "KEY VALUE" for ENV and LABEL.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// change is one parsed --change instruction.
type change struct {
	text  string
	apply func(c *v1.ImageConfig, cmdSet *bool)
}

const changeHelp = "use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR"

func parseChange(text string) (change, error) {
	t := strings.TrimSpace(text)
	instr, arg, _ := strings.Cut(t, " ")
	arg = strings.TrimSpace(arg)
	if t == "" {
		return change{}, fmt.Errorf("commit --change: empty instruction: %s", changeHelp)
	}
	if arg == "" {
		return change{}, fmt.Errorf("commit --change %q: %s needs an argument", text, strings.ToUpper(instr))
	}
	bad := func(format string, a ...any) (change, error) {
		return change{}, fmt.Errorf("commit --change %q: "+format, append([]any{text}, a...)...)
	}
	switch strings.ToUpper(instr) {
	case "CMD", "ENTRYPOINT":
		argv, err := commandForm(arg)
		if err != nil {
			return bad("%v", err)
		}
		if strings.EqualFold(instr, "CMD") {
			return change{t, func(c *v1.ImageConfig, set *bool) { c.Cmd, *set = argv, true }}, nil
		}
		return change{t, func(c *v1.ImageConfig, set *bool) {
			// As a Dockerfile's ENTRYPOINT: the inherited CMD goes,
			// unless this commit set one.
			c.Entrypoint = argv
			if !*set {
				c.Cmd = nil
			}
		}}, nil
	case "ENV", "LABEL":
		pairs, err := keyValues(arg)
		if err != nil {
			return bad("%v", err)
		}
		if strings.EqualFold(instr, "ENV") {
			return change{t, func(c *v1.ImageConfig, _ *bool) {
				for _, kv := range pairs {
					c.Env = setEnv(c.Env, kv[0], kv[1])
				}
			}}, nil
		}
		return change{t, func(c *v1.ImageConfig, _ *bool) {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range pairs {
				c.Labels[kv[0]] = kv[1]
			}
		}}, nil
	case "EXPOSE":
		var ports []string
		for _, p := range strings.Fields(arg) {
			num, proto, ok := strings.Cut(p, "/")
			if !ok {
				proto = "tcp"
			}
			proto = strings.ToLower(proto)
			if proto != "tcp" && proto != "udp" && proto != "sctp" {
				return bad("port %q: the protocol is tcp, udp or sctp", p)
			}
			lo, hi, isRange := strings.Cut(num, "-")
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.ParseUint(hi, 10, 16)
			}
			if err1 != nil || err2 != nil || a == 0 || b < a {
				return bad("port %q: give PORT[/PROTO] or FIRST-LAST[/PROTO], ports 1-65535", p)
			}
			for n := a; n <= b; n++ {
				ports = append(ports, strconv.FormatUint(n, 10)+"/"+proto)
			}
		}
		return change{t, func(c *v1.ImageConfig, _ *bool) {
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				c.ExposedPorts[p] = struct{}{}
			}
		}}, nil
	case "VOLUME":
		var vols []string
		if strings.HasPrefix(arg, "[") {
			if err := json.Unmarshal([]byte(arg), &vols); err != nil {
				return bad("not a JSON array of paths: %v", err)
			}
		} else {
			vols = strings.Fields(arg)
		}
		for _, v := range vols {
			if !strings.HasPrefix(v, "/") {
				return bad("volume %q: give an absolute path", v)
			}
		}
		return change{t, func(c *v1.ImageConfig, _ *bool) {
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		}}, nil
	case "WORKDIR":
		dir := unquote(arg)
		return change{t, func(c *v1.ImageConfig, _ *bool) {
			if !strings.HasPrefix(dir, "/") {
				// Relative to the previous WORKDIR, as in a Dockerfile.
				base := c.WorkingDir
				if base == "" {
					base = "/"
				}
				dir = strings.TrimSuffix(base, "/") + "/" + dir
			}
			c.WorkingDir = dir
		}}, nil
	case "USER":
		u := unquote(arg)
		return change{t, func(c *v1.ImageConfig, _ *bool) { c.User = u }}, nil
	case "STOPSIGNAL":
		sig := unquote(arg)
		if !validSignal(sig) {
			return bad("unknown signal %q: give a name like SIGTERM or a number 1-64", sig)
		}
		return change{t, func(c *v1.ImageConfig, _ *bool) { c.StopSignal = sig }}, nil
	case "ONBUILD":
		return bad("ONBUILD triggers are not kept in an OCI image config, and urun does not build images yet")
	default:
		return bad("unknown instruction %s: %s", instr, changeHelp)
	}
}

// commandForm is CMD's or ENTRYPOINT's argv: a JSON array (exec form),
// else the shell form, run by /bin/sh -c.
func commandForm(arg string) ([]string, error) {
	if strings.HasPrefix(arg, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(arg), &argv); err == nil {
			return argv, nil
		} else if strings.HasSuffix(arg, "]") {
			return nil, fmt.Errorf("not a JSON array of strings (%v): write [\"prog\", \"arg\"]", err)
		}
	}
	return []string{"/bin/sh", "-c", arg}, nil
}

// keyValues reads KEY=VALUE pairs (a VALUE may be quoted), or the older
// one-pair form "KEY VALUE".
func keyValues(arg string) ([][2]string, error) {
	words, err := splitWords(arg)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(arg, " ")
		return [][2]string{{k, unquote(strings.TrimSpace(v))}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits at blanks outside quotes, removing the quotes (and
// a backslash's escape) as a shell does.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func unquote(s string) string {
	if w, err := splitWords(s); err == nil && len(w) == 1 {
		return w[0]
	}
	return s
}

func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n <= 64
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return unix.SignalNum(name) != 0
}

// setEnv sets k=v in env, in place of an earlier k.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			out := append([]string{}, env...)
			out[i] = k + "=" + v
			return out
		}
	}
	return append(append([]string{}, env...), k+"="+v)
}
