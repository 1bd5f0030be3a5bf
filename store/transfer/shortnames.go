package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage/pkg/configfile"
	"go.podman.io/storage/pkg/homedir"

	"github.com/urun-dev/urun/store"
)

// Short names are resolved with image/v5's sysregistriesv2, the code
// podman uses, so registries.conf means the same to both. urun does not
// prompt: in enforcing mode an ambiguous name is an error that lists the
// candidates (podman prompts on a terminal and fails the same way without
// one).

// aliasCachePath is the user's short-name-aliases.conf, which podman
// writes when a user picks a candidate at its prompt.
func aliasCachePath() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/cache/containers/short-name-aliases.conf", nil
	}
	cache, err := homedir.GetCacheHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "containers", "short-name-aliases.conf"), nil
}

// shortNameSystem is a SystemContext whose alias cache path is explicit,
// so that ShortNameInputs names the file sysregistriesv2 reads.
func shortNameSystem(sys *types.SystemContext) (*types.SystemContext, error) {
	c := types.SystemContext{}
	if sys != nil {
		c = *sys
	}
	if c.UserShortNameAliasConfPath == "" {
		p, err := aliasCachePath()
		if err != nil {
			return nil, err
		}
		c.UserShortNameAliasConfPath = p
	}
	return &c, nil
}

// splitShort splits a short name into its repository and its ":TAG",
// "@DIGEST" or ":TAG@DIGEST" suffix (":latest" when it has neither).
func splitShort(name string) (repo, suffix string, err error) {
	if _, err := reference.ParseNormalizedNamed(name); err != nil {
		return "", "", fmt.Errorf("%q is not a valid image name: %w", name, err)
	}
	repo = name
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, suffix = repo[:i], repo[i:]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, suffix = repo[:i], repo[i:]+suffix
	}
	if suffix == "" {
		suffix = ":latest"
	}
	return repo, suffix, nil
}

// shortAlias returns the alias of the short name's repository, with the
// name's tag or digest, or "" when there is none.
func shortAlias(sys *types.SystemContext, repo, suffix string) (string, error) {
	alias, _, err := sysregistriesv2.ResolveShortNameAlias(sys, repo)
	if err != nil || alias == nil {
		return "", err
	}
	return store.NormalizeName(alias.Name() + suffix)
}

// searchRegistries returns the unqualified-search registries, docker.io
// when none is configured (urun's default before registries.conf was
// read; podman fails instead), and the file that set them.
func searchRegistries(sys *types.SystemContext) ([]string, string, error) {
	regs, origin, err := sysregistriesv2.UnqualifiedSearchRegistriesWithOrigin(sys)
	if err != nil {
		return nil, "", fmt.Errorf("reading registries.conf: %w", err)
	}
	if len(regs) == 0 {
		return []string{"docker.io"}, "urun's default", nil
	}
	return regs, origin, nil
}

func qualify(regs []string, name string) ([]string, error) {
	var out []string
	for _, reg := range regs {
		full, err := store.NormalizeName(reg + "/" + name)
		if err != nil {
			return nil, fmt.Errorf("unqualified-search registry %q: %w", reg, err)
		}
		out = append(out, full)
	}
	return out, nil
}

// LocalCandidates returns the full names a short name may have in the
// store, in podman's order: the alias, localhost/NAME, NAME in each
// search registry.
func LocalCandidates(sys *types.SystemContext, name string) ([]string, error) {
	sys, err := shortNameSystem(sys)
	if err != nil {
		return nil, err
	}
	repo, suffix, err := splitShort(name)
	if err != nil {
		return nil, err
	}
	var out []string
	alias, err := shortAlias(sys, repo, suffix)
	if err != nil {
		return nil, err
	}
	if alias != "" {
		out = append(out, alias)
	}
	regs, _, err := searchRegistries(sys)
	if err != nil {
		return nil, err
	}
	rest, err := qualify(append([]string{"localhost"}, regs...), repo+suffix)
	if err != nil {
		return nil, err
	}
	for _, n := range rest {
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PullCandidates returns the full names to try, in order, for pulling
// a short name: its alias alone, else NAME in each search registry. In
// enforcing mode more than one candidate is an error naming them.
func PullCandidates(sys *types.SystemContext, name string) ([]string, error) {
	sys, err := shortNameSystem(sys)
	if err != nil {
		return nil, err
	}
	repo, suffix, err := splitShort(name)
	if err != nil {
		return nil, err
	}
	alias, err := shortAlias(sys, repo, suffix)
	if err != nil || alias != "" {
		return []string{alias}, err
	}
	regs, origin, err := searchRegistries(sys)
	if err != nil {
		return nil, err
	}
	out, err := qualify(regs, repo+suffix)
	if err != nil {
		return nil, err
	}
	mode, err := sysregistriesv2.GetShortNameMode(sys)
	if err != nil {
		return nil, fmt.Errorf("reading registries.conf: %w", err)
	}
	if mode == types.ShortNameModeEnforcing && len(out) > 1 {
		return nil, &AmbiguousError{Name: name, Origin: origin, Candidates: out}
	}
	return out, nil
}

// AmbiguousError is PullCandidates' answer in enforcing mode when more
// than one registry may have the name.
type AmbiguousError struct {
	Name, Origin string
	Candidates   []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("the short name %s is ambiguous (short-name-mode is enforcing; unqualified-search-registries in %s): pull one of %s, or add an alias for it to [aliases] in registries.conf", e.Name, e.Origin, strings.Join(e.Candidates, ", "))
}

// choose asks the user, on the terminal o.Prompt reads from, which
// candidate to pull, as podman does in enforcing mode.
func choose(o TransferOptions, e *AmbiguousError) (string, error) {
	w := o.PromptOut
	fmt.Fprintf(w, "%s is a short name for more than one image (unqualified-search-registries in %s):\n", e.Name, e.Origin)
	for i, c := range e.Candidates {
		fmt.Fprintf(w, "  %d) %s\n", i+1, c)
	}
	fmt.Fprintf(w, "Pull which one? [1-%d] ", len(e.Candidates))
	line, err := bufio.NewReader(o.Prompt).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading the choice: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(e.Candidates) {
		return "", fmt.Errorf("%q is not one of 1-%d: pull the full name instead, such as 'urun pull %s'", strings.TrimSpace(line), len(e.Candidates), e.Candidates[0])
	}
	return e.Candidates[n-1], nil
}

// ShortNameInputs lists every file and directory the short-name answers
// depend on: the registries.conf files (present or not), the drop-in
// directories and their files, the override file and the alias cache.
func ShortNameInputs(sys *types.SystemContext) ([]store.FileState, error) {
	sys, err := shortNameSystem(sys)
	if err != nil {
		return nil, err
	}
	paths, err := configfile.GetSearchPaths(&configfile.File{
		Name:                            "registries",
		Extension:                       "conf",
		EnvironmentName:                 "CONTAINERS_REGISTRIES_CONF",
		RootForImplicitAbsolutePaths:    sys.RootForImplicitAbsolutePaths,
		CustomConfigFilePath:            sys.SystemRegistriesConfPath,
		CustomConfigFileDropInDirectory: sys.SystemRegistriesConfDirPath,
		UserId:                          os.Geteuid(),
	})
	if err != nil {
		return nil, fmt.Errorf("finding registries.conf: %w", err)
	}
	files := append([]string{}, paths.MainFiles...)
	for _, dir := range paths.DropInDirectories {
		files = append(files, dir)
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if paths.ExtraOverrideFile != "" {
		files = append(files, paths.ExtraOverrideFile)
	}
	files = append(files, sys.UserShortNameAliasConfPath)
	out := make([]store.FileState, len(files))
	for i, f := range files {
		out[i] = store.StatFile(f)
	}
	return out, nil
}

// RecordLocalCandidates resolves name with LocalCandidates and adds the
// answer to the data directory's shortnames.json, which urun reads
// without starting urun-image.
func RecordLocalCandidates(dataDir, name string) ([]string, error) {
	// Inputs first: an edit between the two steps then makes the cache
	// stale rather than wrong.
	inputs, err := ShortNameInputs(nil)
	if err != nil {
		return nil, err
	}
	names, err := LocalCandidates(nil, name)
	if err != nil {
		return nil, err
	}
	c, fresh := store.ReadShortNameCache(dataDir)
	if !fresh || c.Names == nil {
		c = store.ShortNameCache{Names: map[string][]string{}}
	}
	c.Inputs, c.Env = inputs, store.CurrentEnv()
	c.Names[name] = names
	return names, store.WriteShortNameCache(dataDir, c)
}

// pullShort pulls the first of the short name's candidates that a
// registry has, as podman does in permissive mode.
func pullShort(ctx context.Context, sink Sink, name string, o TransferOptions) (string, error) {
	cands, err := PullCandidates(o.system(), name)
	var amb *AmbiguousError
	if errors.As(err, &amb) && o.Prompt != nil {
		choice, err := choose(o, amb)
		if err != nil {
			return "", err
		}
		got, err := PullInto(ctx, sink, choice, o)
		if err != nil {
			return "", err
		}
		// As podman: the choice becomes an alias in the user's
		// short-name-aliases.conf, so the name is not ambiguous again.
		repo, _, _ := splitShort(name)
		chosenRepo, _, _ := splitShort(choice)
		sys, err := shortNameSystem(o.system())
		if err == nil {
			err = sysregistriesv2.AddShortNameAlias(sys, repo, chosenRepo)
		}
		if err != nil {
			return "", fmt.Errorf("recording %s as the alias of %s: %w", chosenRepo, repo, err)
		}
		return got, nil
	}
	if err != nil {
		return "", err
	}
	var errs []string
	for _, full := range cands {
		if o.Progress != nil && len(cands) > 1 {
			fmt.Fprintf(o.Progress, "Trying to pull %s...\n", full)
		}
		got, err := PullInto(ctx, sink, full, o)
		if err == nil {
			return got, nil
		}
		errs = append(errs, err.Error())
	}
	if len(errs) == 1 {
		return "", errors.New(errs[0])
	}
	return "", fmt.Errorf("no registry has %s: %s", name, strings.Join(errs, "; "))
}
