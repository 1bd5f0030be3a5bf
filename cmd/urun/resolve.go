package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urun-dev/urun/container"
)

var errNoSuchContainer = container.ErrNotExist

// resolveContainer finds a container by id, name, or unique id prefix.
func resolveContainer(root, ref string) (string, error) {
	if container.ValidID(ref) == nil {
		if _, err := container.Load(root, ref); err == nil {
			return ref, nil
		} else if !errors.Is(err, container.ErrNotExist) {
			return "", err
		}
	}
	ids, err := container.List(root)
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		st, err := container.Load(root, id)
		if err != nil {
			continue
		}
		if st.Name == ref {
			return id, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", fmt.Errorf("%w: no id or name %q (see 'urun ps -a')", errNoSuchContainer, ref)
	}
	return "", fmt.Errorf("%q matches %d containers: give more of the id", ref, len(match))
}

// findContainer resolves ref and loads the container's state.
func findContainer(root, ref string) (string, *container.State, error) {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return "", nil, err
	}
	st, err := container.Load(root, id)
	if err != nil {
		return "", nil, err
	}
	return id, st, nil
}
