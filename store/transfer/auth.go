package transfer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"
)

// Credentials go where podman keeps them, through the same code
// (image/v5's pkg/docker/config): $XDG_RUNTIME_DIR/containers/auth.json
// unless an auth file is named, so `podman login` and `urun login` share
// them, and credential helpers configured in registries.conf are used.

// AuthKey turns what the user typed for login/logout into the key of
// the credentials file: a registry, or a namespace or repository in one
// ("https://" and a trailing "/" dropped, as podman does). docker.io's
// Hub aliases become docker.io.
func AuthKey(arg string) (string, error) {
	key := strings.TrimPrefix(strings.TrimPrefix(arg, "https://"), "http://")
	key = strings.TrimSuffix(key, "/")
	if key == "" || strings.ContainsAny(key, " \t@") {
		return "", fmt.Errorf("%q is not a registry: give a host[:port], as in 'urun login quay.io'", arg)
	}
	host, rest, _ := strings.Cut(key, "/")
	switch host {
	case "index.docker.io", "registry-1.docker.io":
		host = "docker.io"
	}
	if rest != "" {
		if strings.Contains(rest, ":") {
			return "", fmt.Errorf("%q names a tag: log in to a registry or a repository without a tag", arg)
		}
		return host + "/" + rest, nil
	}
	return host, nil
}

// registryOf returns the host of an auth key.
func registryOf(key string) string {
	host, _, _ := strings.Cut(key, "/")
	return host
}

// ErrWrongCredentials is returned by Login when the registry refused the
// username and password.
var ErrWrongCredentials = errors.New("wrong username or password")

// Login checks username and password against the registry of key and,
// when the registry accepts them, saves them. Nothing is saved otherwise.
// It returns the file (or credential helper) they went to.
func Login(ctx context.Context, key, username, password string, o TransferOptions) (string, error) {
	sys := o.system()
	reg := registryOf(key)
	if err := docker.CheckAuth(ctx, sys, username, password, reg); err != nil {
		var unauth docker.ErrUnauthorizedForCredentials
		if errors.As(err, &unauth) {
			return "", fmt.Errorf("logging in to %s: %w (the registry refused them, nothing was saved: check them and run urun login again)", reg, ErrWrongCredentials)
		}
		return "", explainLoginError(reg, err)
	}
	where, err := config.SetCredentials(sys, key, username, password)
	if err != nil {
		return "", fmt.Errorf("saving the credentials for %s: %w", key, err)
	}
	return where, nil
}

// GetLogin returns the username saved for key.
func GetLogin(key string, o TransferOptions) (string, error) {
	auth, err := config.GetCredentials(o.system(), key)
	if err != nil {
		return "", fmt.Errorf("reading the credentials for %s: %w", key, err)
	}
	if auth.Username == "" {
		return "", fmt.Errorf("not logged in to %s: log in with 'urun login %s'", key, key)
	}
	return auth.Username, nil
}

// Logout removes the credentials saved for key, or all of them.
func Logout(key string, all bool, o TransferOptions) error {
	sys := o.system()
	if all {
		if err := config.RemoveAllAuthentication(sys); err != nil {
			return fmt.Errorf("removing all credentials: %w", err)
		}
		return nil
	}
	err := config.RemoveAuthentication(sys, key)
	if errors.Is(err, config.ErrNotLoggedIn) {
		// Credentials elsewhere (~/.docker/config.json) are read but
		// not ours to remove, as with podman.
		if auth, gerr := config.GetCredentials(sys, key); gerr == nil && auth.Username != "" {
			return fmt.Errorf("not logged in to %s with urun or podman: the credentials in use come from another file, such as ~/.docker/config.json (remove them with 'docker logout %s')", key, key)
		}
		return fmt.Errorf("not logged in to %s", key)
	}
	if err != nil {
		return fmt.Errorf("removing the credentials for %s: %w", key, err)
	}
	return nil
}

// explainLoginError adds the fix to a failed connection.
func explainLoginError(reg string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "http: server gave HTTP response to HTTPS client") ||
		strings.Contains(msg, "certificate signed by unknown authority") {
		return fmt.Errorf("logging in to %s: %w (a registry without TLS or with a self-signed certificate needs --tls-verify=false, or insecure = true for it in registries.conf)", reg, err)
	}
	return fmt.Errorf("logging in to %s: %w", reg, err)
}
