package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// dockerForms maps docker's management-command spellings onto urun's
// commands: `container ls` is `ps`, `image rm` is `rmi`, and so on, so
// scripts written either way run.
func dockerForms(args []string) []string {
	if len(args) < 2 {
		return args
	}
	var to string
	switch args[0] {
	case "container":
		switch args[1] {
		case "ls", "list", "ps":
			to = "ps"
		case "prune":
			return args // container prune is its own command
		default:
			to = args[1] // container rm|run|inspect|logs|… are the top-level ones
		}
	case "image":
		switch args[1] {
		case "ls", "list":
			to = "images"
		case "rm", "remove":
			to = "rmi"
		case "prune":
			return args // image prune is its own command
		default:
			to = args[1] // image inspect|pull|push|tag|save|load
		}
	default:
		return args
	}
	return append([]string{to}, args[2:]...)
}

// didYouMean is " (did you mean X?)" for the closest of names to s, or "".
func didYouMean(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD || (d == bestD && best == "" && strings.HasPrefix(n, s)) {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// flagSuggestion adds a did-you-mean to pflag's "unknown flag: --X".
func flagSuggestion(err error, fs *pflag.FlagSet) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if hint := didYouMean(name, names); hint != "" {
		return errors.New(err.Error() + strings.Replace(hint, `"`, `"--`, 1))
	}
	return err
}

// editDistance is the edit distance between a and b, a swap of two
// neighbours counting as one edit (optimal string alignment).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
