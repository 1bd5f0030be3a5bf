package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// Go-template output (--format) as the docker CLI and podman define it:
// `\t` and `\n` written in the template are expanded, a leading "table"
// prints a header row and aligns columns, and the functions docker's
// templates offer (json, join, split, upper, lower, title, truncate, pad,
// println) are there, so scripts' templates carry over unchanged.

// templateFuncs are docker's template functions (cli/templates).
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"join":  strings.Join,
	"split": strings.Split,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		r := []rune(s)
		r[0] = unicode.ToUpper(r[0])
		return string(r)
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"println": fmt.Sprintln,
}

// outputTemplate is a parsed --format.
type outputTemplate struct {
	tmpl  *template.Template
	table bool
	// header is the table's header row, executed like a row on a value
	// whose every field is its column name.
	header *template.Template
}

// parseTemplate parses a --format value. headers names the columns of a
// table template ("ID" -> "CONTAINER ID"); a field without one is shown
// upper-cased.
func parseTemplate(format string) (*outputTemplate, error) {
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t := &outputTemplate{}
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		t.table = true
		format = strings.TrimLeft(rest, " ")
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	t.tmpl = tmpl
	if t.table {
		// The header: every {{.Field}} becomes {{index . "Field"}} on a
		// map of column names; functions around them are dropped.
		h := headerTemplate(format)
		if t.header, err = template.New("header").Funcs(templateFuncs).Parse(h); err != nil {
			return nil, fmt.Errorf("--format: %w", err)
		}
	}
	return t, nil
}

// headerTemplate turns a row template into one that prints column names:
// each action's first .Field is kept, everything else in it dropped.
func headerTemplate(format string) string {
	var b strings.Builder
	for {
		i := strings.Index(format, "{{")
		if i < 0 {
			b.WriteString(format)
			return b.String()
		}
		b.WriteString(format[:i])
		j := strings.Index(format[i:], "}}")
		if j < 0 {
			b.WriteString(format[i:])
			return b.String()
		}
		action := format[i+2 : i+j]
		format = format[i+j+2:]
		if field := firstField(action); field != "" {
			fmt.Fprintf(&b, "{{index . %q}}", field)
		}
	}
}

func firstField(action string) string {
	for _, w := range strings.Fields(action) {
		if strings.HasPrefix(w, ".") && len(w) > 1 {
			return strings.SplitN(w[1:], ".", 2)[0]
		}
	}
	return ""
}

// columnNames are the header names docker and podman print.
var columnNames = map[string]string{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Created": "CREATED", "CreatedSince": "CREATED",
	"Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Labels": "LABELS",
	"Mounts": "MOUNTS", "Networks": "NETWORKS", "Size": "SIZE", "ExitCode": "EXIT CODE",
	"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "Name": "NAME",
	"Driver": "DRIVER", "Mountpoint": "MOUNTPOINT",
}

// write prints rows, one per value, with a header row for a table.
func (t *outputTemplate) write(w io.Writer, rows []any, idHeader string) error {
	out := w
	var tw *tabwriter.Writer
	if t.table {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		out = tw
		names := map[string]string{}
		for k, v := range columnNames {
			names[k] = v
		}
		if idHeader != "" {
			names["ID"] = idHeader
		}
		if len(rows) > 0 {
			for _, f := range fieldNames(rows[0]) {
				if _, ok := names[f]; !ok {
					names[f] = strings.ToUpper(f)
				}
			}
		}
		if err := t.header.Execute(out, names); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(out)
	}
	for _, r := range rows {
		if err := t.tmpl.Execute(out, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// fieldNames lists a struct's fields and methods (for header names).
func fieldNames(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumMethod(); i++ {
		out = append(out, t.Method(i).Name)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			out = append(out, t.Field(i).Name)
		}
	}
	return out
}
