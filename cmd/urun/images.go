package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/store"
)

func init() {
	register("images", func() *command {
		fs := pflag.NewFlagSet("images", pflag.ContinueOnError)
		format := fs.String("format", "table", "table, json, or a Go template as docker's (e.g. '{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}')")
		quiet := fs.BoolP("quiet", "q", false, "print the image ids only")
		fs.BoolP("all", "a", false, "show all images (urun keeps no intermediate images: the same as without)")
		noTrunc := fs.Bool("no-trunc", false, "print full ids")
		filters := fs.StringArrayP("filter", "f", nil, "show only images matching KEY=VALUE: reference (a glob on the name), label, dangling")
		return &command{
			name:  "images",
			short: "List the images in the local store",
			usage: "images [-q] [--filter KEY=VALUE] [--format table|json|TEMPLATE] [REFERENCE]",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) > 1 {
					return argsError("images", "at most one reference")
				}
				fl := *filters
				if len(args) == 1 {
					fl = append(fl, "reference="+args[0])
				}
				s, err := openStore()
				if err != nil {
					return err
				}
				list, err := s.List()
				if err != nil {
					return err
				}
				if list, err = filterImages(s, list, fl); err != nil {
					return err
				}
				engine.UnpackedSizes(s, list)
				return printImages(list, *quiet, *format, *noTrunc)
			},
		}
	})
}

func printImages(list []store.Entry, quiet bool, format string, noTrunc bool) error {
	switch {
	case quiet:
		seen := map[string]bool{}
		for _, e := range list {
			id := imageView{e: e, noTrunc: noTrunc}.ID()
			if !seen[id] {
				seen[id] = true
				fmt.Println(id)
			}
		}
		return nil
	case format == "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if list == nil {
			fmt.Println("[]")
			return nil
		}
		return enc.Encode(list)
	case format == "table":
		format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	rows := make([]any, len(list))
	for i, e := range list {
		rows[i] = imageView{e: e, noTrunc: noTrunc}
	}
	return t.write(os.Stdout, rows, "IMAGE ID")
}

// imageView is one image as `images --format` templates see it (docker's
// and podman's fields).
type imageView struct {
	e       store.Entry
	noTrunc bool
}

// Repository is the name without its tag.
func (v imageView) Repository() string {
	if v.e.Dangling() {
		return "<none>"
	}
	repo, _ := splitTag(v.e.Name)
	return repo
}

// Tag is the name's tag.
func (v imageView) Tag() string {
	_, tag := splitTag(v.e.Name)
	return tag
}

// ID is the image id (12 characters; all with --no-trunc).
func (v imageView) ID() string {
	if v.noTrunc {
		return v.e.Digest.String()
	}
	return v.e.ID
}

// Digest is the manifest digest.
func (v imageView) Digest() string { return v.e.Digest.String() }

// Names is the full name.
func (v imageView) Names() string { return v.e.Name }

// CreatedAt is when the image was built.
func (v imageView) CreatedAt() string { return v.e.Created }

// CreatedSince is how long ago the image was built.
func (v imageView) CreatedSince() string {
	t, err := time.Parse("2006-01-02T15:04:05Z", v.e.Created)
	if err != nil {
		return "unknown"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// Size is the image's unpacked size (engine.UnpackedSizes), human-readable.
func (v imageView) Size() string { return units.HumanSize(float64(v.e.Size)) }

// splitTag splits "host:5000/a/b:tag" into "host:5000/a/b" and "tag".
func splitTag(name string) (string, string) {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i], name[i+1:]
	}
	return name, "<none>"
}

func filterImages(s *store.Store, list []store.Entry, filters []string) ([]store.Entry, error) {
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE", f)
		}
		var keep func(store.Entry) bool
		switch k {
		case "reference":
			keep = func(e store.Entry) bool { return referenceMatches(e.Name, v) }
		case "dangling":
			// An unnamed image (commit without a name).
			keep = func(e store.Entry) bool { return e.Dangling() == (v == "true") }
		case "label":
			lk, lv, hasValue := strings.Cut(v, "=")
			keep = func(e store.Entry) bool {
				img, err := s.OpenEntry(e)
				if err != nil {
					return false
				}
				got, ok := img.Config.Config.Labels[lk]
				return ok && (!hasValue || got == lv)
			}
		default:
			return nil, fmt.Errorf("--filter %q: the keys urun knows are reference, label, dangling", f)
		}
		var out []store.Entry
		for _, e := range list {
			if keep(e) {
				out = append(out, e)
			}
		}
		list = out
	}
	return list, nil
}

// referenceMatches matches a name against what a user types: a glob on
// the full name, the name without its registry, or without its tag.
func referenceMatches(name, pattern string) bool {
	repo, _ := splitTag(name)
	short := name
	if i := strings.Index(name, "/"); i >= 0 {
		short = name[i+1:]
	}
	shortRepo, _ := splitTag(short)
	for _, cand := range []string{name, repo, short, shortRepo, strings.TrimPrefix(short, "library/"), strings.TrimPrefix(shortRepo, "library/")} {
		if ok, _ := path.Match(pattern, cand); ok {
			return true
		}
	}
	return false
}
