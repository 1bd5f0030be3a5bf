package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/container"
	"github.com/urun-dev/urun/engine"
)

// Volumes as docker's and podman's local driver: a directory per volume
// under the data directory (volumes/NAME/_data, podman's layout), made
// on first use by `-v NAME:/path` or `--mount type=volume`, or by
// `volume create`. A volume is a bind mount of that directory; its files
// belong to the container's ids like any others the container writes
// (the directory itself to the container's root, your own uid).

// volumeInfo is a volume's record (volume.json), shaped as podman's
// `volume inspect`.
type volumeInfo struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	Options    map[string]string `json:"Options"`
	Anonymous  bool              `json:"Anonymous,omitempty"`
}

func volumesDir() (string, error) {
	data, err := engine.DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(data, "volumes"), nil
}

// validVolumeName is docker's rule for volume names.
func validVolumeName(n string) error {
	if err := container.ValidID(n); err != nil || len(n) < 2 {
		return fmt.Errorf("invalid volume name %q: use letters, digits, '_', '.', '-' (at least 2, not starting with a symbol)", n)
	}
	return nil
}

// ensureVolume returns volume name's record, creating the volume when it
// does not exist (created tells).
func ensureVolume(name string, labels map[string]string, anonymous bool) (v *volumeInfo, created bool, err error) {
	if err := validVolumeName(name); err != nil {
		return nil, false, err
	}
	dir, err := volumesDir()
	if err != nil {
		return nil, false, err
	}
	if v, err := loadVolume(name); err == nil {
		return v, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating the volume directory: %w", err)
	}
	vdir := filepath.Join(dir, name)
	if err := os.Mkdir(vdir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	// 0755: the container's other users read it, as docker's.
	if err := os.Mkdir(filepath.Join(vdir, "_data"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	v = &volumeInfo{Name: name, Driver: "local", Mountpoint: filepath.Join(vdir, "_data"), CreatedAt: time.Now().UTC(),
		Labels: labels, Scope: "local", Options: map[string]string{}, Anonymous: anonymous}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(filepath.Join(vdir, "volume.json"), b, 0o600); err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	return v, true, nil
}

var errNoSuchVolume = errors.New("no such volume")

func loadVolume(name string) (*volumeInfo, error) {
	dir, err := volumesDir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, name, "volume.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errNoSuchVolume, name)
	}
	var v volumeInfo
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	return &v, nil
}

func listVolumes() ([]*volumeInfo, error) {
	dir, err := volumesDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []*volumeInfo
	for _, e := range ents {
		if v, err := loadVolume(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// volumeUsers are the containers (names) whose mounts use volume v.
func volumeUsers(root string, v *volumeInfo) []string {
	list, err := listEntries(root, true)
	if err != nil {
		return nil
	}
	var users []string
	for _, e := range list {
		spec, err := container.LoadSpec(container.Dir(root, e.ID))
		if err != nil {
			continue
		}
		for _, m := range spec.Mounts {
			if m.Source == v.Mountpoint {
				users = append(users, e.Names[0])
				break
			}
		}
	}
	return users
}

// removeVolume deletes a volume's directory; files of the container's
// other ids are removed in a user namespace with the full mapping.
func removeVolume(v *volumeInfo) error {
	dir := filepath.Dir(v.Mountpoint)
	if err := engine.RemoveIDsTree(dir); err != nil {
		return fmt.Errorf("removing volume %s: %w", v.Name, err)
	}
	return nil
}

// resolveVolumeArgs turns run's `-v NAME:/dst[:opts]`, `-v /dst`
// (anonymous) and `--mount type=volume,…` into binds of the volumes'
// directories, creating volumes on first use.
func resolveVolumeArgs(vols, mounts []string) ([]string, []string, error) {
	var outV, outM []string
	for _, s := range vols {
		parts := strings.Split(s, ":")
		switch {
		case len(parts) == 1 && path.IsAbs(parts[0]):
			v, _, err := ensureVolume(anonymousVolumeName(), nil, true)
			if err != nil {
				return nil, nil, err
			}
			s = v.Mountpoint + ":" + parts[0]
		case len(parts) >= 2 && parts[0] != "" && !path.IsAbs(parts[0]) && !strings.HasPrefix(parts[0], "."):
			v, _, err := ensureVolume(parts[0], nil, false)
			if err != nil {
				return nil, nil, fmt.Errorf("-v %s: %w", s, err)
			}
			parts[0] = v.Mountpoint
			s = strings.Join(parts, ":")
		}
		outV = append(outV, s)
	}
	for _, s := range mounts {
		kv := map[string]string{}
		var order []string
		for _, f := range strings.Split(s, ",") {
			k, val, _ := strings.Cut(f, "=")
			kv[k] = val
			order = append(order, k)
		}
		if kv["type"] != "volume" {
			outM = append(outM, s)
			continue
		}
		src := firstOf(kv, "source", "src")
		var v *volumeInfo
		var err error
		if src == "" {
			v, _, err = ensureVolume(anonymousVolumeName(), nil, true)
		} else {
			v, _, err = ensureVolume(src, nil, false)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--mount %s: %w", s, err)
		}
		out := []string{"type=bind", "source=" + v.Mountpoint}
		for _, k := range order {
			switch k {
			case "type", "source", "src":
			case "volume-nocopy":
				// No copy-up is done yet: nothing to turn off.
			case "target", "dst", "destination", "readonly", "ro":
				if val, ok := kv[k]; ok && (val != "" || k == "readonly" || k == "ro") {
					if val == "" {
						out = append(out, k)
					} else {
						out = append(out, k+"="+val)
					}
				}
			default:
				return nil, nil, fmt.Errorf("--mount %s: option %q is not supported for type=volume (supported: source, target, readonly)", s, k)
			}
		}
		outM = append(outM, strings.Join(out, ","))
	}
	return outV, outM, nil
}

func firstOf(kv map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := kv[k]; v != "" {
			return v
		}
	}
	return ""
}

func anonymousVolumeName() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func init() {
	register("volume", func() *command {
		fs := pflag.NewFlagSet("volume", pflag.ContinueOnError)
		fs.SetInterspersed(false)
		return &command{
			name:  "volume",
			short: "Manage volumes: create, ls, inspect, rm, prune",
			usage: "volume create [--label K=V] [NAME]\n       urun volume ls [-q] [--format F] [--filter name=N|label=K[=V]|dangling=true]\n       urun volume inspect [-f F] NAME...\n       urun volume rm [-f] NAME...\n       urun volume prune [-f] [-a]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) == 0 {
					return argsError("volume", "a subcommand: create, ls, inspect, rm or prune")
				}
				return volumeCommand(g, args[0], args[1:])
			},
		}
	})
}

func volumeCommand(g *globals, sub string, args []string) error {
	fs := pflag.NewFlagSet("volume "+sub, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		labels, filters []string
		quiet, force    bool
		all             bool
		format          string
	)
	fs.StringArrayVar(&filters, "filter", nil, "name=, label=, dangling=true, driver=")
	// -f is --force for rm and prune, --format for ls and inspect.
	if sub == "rm" || sub == "remove" || sub == "prune" {
		fs.BoolVarP(&force, "force", "f", false, "no error for a missing volume (rm); no question (prune)")
		fs.BoolVarP(&all, "all", "a", false, "prune: named volumes too, not only anonymous ones")
	} else {
		fs.StringArrayVarP(&labels, "label", "l", nil, "create: set a label KEY=VALUE")
		fs.BoolVarP(&quiet, "quiet", "q", false, "ls: names only")
		fs.StringVarP(&format, "format", "f", "", "ls, inspect: json or a Go template")
		fs.StringP("driver", "d", "local", "create: the driver (only local)")
		fs.StringArrayP("opt", "o", nil, "create: driver options (none are supported)")
	}
	if err := fs.Parse(args); err != nil {
		return usageError(flagSuggestion(err, fs), "urun volume --help")
	}
	args = fs.Args()
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(args) > 1 {
			return argsError("volume create", "at most one name")
		}
		if d, _ := fs.GetString("driver"); d != "local" {
			return fmt.Errorf("volume create: driver %q is not supported (only local)", d)
		}
		if o, _ := fs.GetStringArray("opt"); len(o) > 0 {
			return fmt.Errorf("volume create: --opt is not supported (the local driver's directory only)")
		}
		name := anonymousVolumeName()
		if len(args) == 1 {
			name = args[0]
		}
		lm := map[string]string{}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			lm[k] = v
		}
		v, _, err := ensureVolume(name, lm, len(args) == 0)
		if err != nil {
			return err
		}
		fmt.Println(v.Name)
		return nil
	case "ls", "list":
		list, err := listVolumes()
		if err != nil {
			return err
		}
		list, err = filterVolumes(root, list, filters)
		if err != nil {
			return err
		}
		switch {
		case quiet:
			for _, v := range list {
				fmt.Println(v.Name)
			}
			return nil
		case format == "json":
			if list == nil {
				list = []*volumeInfo{}
			}
			return printJSON(os.Stdout, list)
		case format == "":
			format = "table {{.Driver}}\t{{.Name}}"
		}
		t, err := parseTemplate(format)
		if err != nil {
			return err
		}
		rows := make([]any, len(list))
		for i, v := range list {
			rows[i] = v
		}
		return t.write(os.Stdout, rows, "")
	case "inspect":
		if len(args) == 0 {
			return argsError("volume inspect", "at least one volume")
		}
		var out []any
		for _, n := range args {
			v, err := loadVolume(n)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		if format == "" || format == "json" {
			return printJSON(os.Stdout, out)
		}
		t, err := parseTemplate(format)
		if err != nil {
			return err
		}
		t.table = false
		return t.write(os.Stdout, out, "")
	case "rm", "remove":
		if len(args) == 0 {
			return argsError("volume rm", "at least one volume")
		}
		for _, n := range args {
			v, err := loadVolume(n)
			if err != nil {
				if force {
					continue
				}
				return err
			}
			if users := volumeUsers(root, v); len(users) > 0 {
				if !force {
					return fmt.Errorf("volume %s is in use by container %s: remove the container first (or volume rm -f)", n, strings.Join(users, ", "))
				}
				for _, u := range users {
					if err := engine.Remove(root, u, true); err != nil {
						return err
					}
				}
			}
			if err := removeVolume(v); err != nil {
				return err
			}
			fmt.Println(n)
		}
		return nil
	case "prune":
		list, err := listVolumes()
		if err != nil {
			return err
		}
		if list, err = filterVolumes(root, list, filters); err != nil {
			return err
		}
		for _, v := range list {
			if (!v.Anonymous && !all) || len(volumeUsers(root, v)) > 0 {
				continue
			}
			if err := removeVolume(v); err != nil {
				return err
			}
			fmt.Println(v.Name)
		}
		return nil
	}
	return fmt.Errorf("unknown volume subcommand %q%s (create, ls, inspect, rm, prune)", sub, didYouMean(sub, []string{"create", "ls", "inspect", "rm", "prune"}))
}

func filterVolumes(root string, list []*volumeInfo, filters []string) ([]*volumeInfo, error) {
	for _, f := range filters {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE", f)
		}
		var keep func(*volumeInfo) bool
		switch k {
		case "name":
			keep = func(v *volumeInfo) bool { return strings.Contains(v.Name, val) }
		case "label":
			lk, lv, hasValue := strings.Cut(val, "=")
			keep = func(v *volumeInfo) bool { got, ok := v.Labels[lk]; return ok && (!hasValue || got == lv) }
		case "dangling":
			keep = func(v *volumeInfo) bool { return (len(volumeUsers(root, v)) == 0) == (val == "true" || val == "1") }
		case "driver":
			keep = func(v *volumeInfo) bool { return v.Driver == val }
		default:
			return nil, fmt.Errorf("--filter %q: the keys urun knows are name, label, dangling, driver", f)
		}
		var out []*volumeInfo
		for _, v := range list {
			if keep(v) {
				out = append(out, v)
			}
		}
		list = out
	}
	return list, nil
}
