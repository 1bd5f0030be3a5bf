package store

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// urun normalises image names itself instead of importing a reference
// package: github.com/distribution/reference and image/v5's copy compile
// their grammar at package init, which measured 4–8 ms on every urun
// start (GODEBUG=inittrace=1), and the warm `urun run IMAGE` must pay for
// a store lookup only. The rules are docker's; names_test.go checks them
// against go.podman.io/image/v5/docker/reference.

var nameGrammar = sync.OnceValues(func() (*regexp.Regexp, *regexp.Regexp) {
	const (
		comp   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
		dlabel = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain = dlabel + `(?:\.` + dlabel + `)*(?::[0-9]+)?`
		tag    = `[\w][\w.-]{0,127}`
		dig    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}`
	)
	full := regexp.MustCompile(`^(?:(` + domain + `)/)?(` + comp + `(?:/` + comp + `)*)(?::(` + tag + `))?(?:@(` + dig + `))?$`)
	return full, regexp.MustCompile(`^` + domain + `$`)
})

// NormalizeName turns what the user typed into the name the store keeps:
// "busybox" → "docker.io/library/busybox:latest", as podman and docker do.
func NormalizeName(name string) (string, error) {
	in := name
	name = strings.TrimPrefix(name, "docker://")
	// The first component is a registry when it looks like a host.
	domain, rest := "", name
	if i := strings.IndexRune(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			domain, rest = first, name[i+1:]
		}
	}
	if domain == "" || domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.ContainsRune(strings.SplitN(rest, "@", 2)[0], '/') {
		rest = "library/" + rest
	}
	full, dom := nameGrammar()
	m := full.FindStringSubmatch(domain + "/" + rest)
	if m == nil || !dom.MatchString(domain) || len(m[2])+len(domain)+1 > 255 {
		return "", fmt.Errorf("%q is not a valid image name (lowercase NAME[:TAG][@DIGEST], as in docker.io/library/busybox:latest)", in)
	}
	out := domain + "/" + m[2]
	switch {
	case m[3] != "":
		out += ":" + m[3]
	case m[4] == "":
		out += ":latest"
	}
	if m[4] != "" {
		out += "@" + m[4]
	}
	return out, nil
}

// splitName splits a normalised name into its registry and its path
// without the tag or digest.
func splitName(full string) (domain, path string) {
	domain, rest, _ := strings.Cut(full, "/")
	rest, _, _ = strings.Cut(rest, "@")
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest = rest[:i]
	}
	return domain, rest
}
