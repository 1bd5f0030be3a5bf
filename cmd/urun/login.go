package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// login and logout share podman's credentials file; the work (checking
// the password with the registry, writing the file) is urun-image's, as
// it needs image/v5. The password reaches the helper on its stdin.

func init() {
	register("login", func() *command {
		fs := pflag.NewFlagSet("login", pflag.ContinueOnError)
		username := fs.StringP("username", "u", "", "the registry username")
		password := fs.StringP("password", "p", "", "the password (visible to other users in ps; prefer --password-stdin)")
		passwordStdin := fs.Bool("password-stdin", false, "read the password from stdin")
		authFile := fs.String("authfile", "", "the credentials file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
		tlsVerify := fs.Bool("tls-verify", true, "require HTTPS with a trusted certificate (false for a local registry on plain HTTP)")
		getLogin := fs.Bool("get-login", false, "print the username saved for REGISTRY")
		return &command{
			name:  "login",
			short: "Save credentials for a registry (shared with podman)",
			usage: "login [flags] REGISTRY",
			flags: fs,
			run: func(g *globals, args []string) error {
				if len(args) != 1 {
					return argsError("login", "one REGISTRY argument")
				}
				a := []string{"login", fmt.Sprintf("--tls-verify=%t", *tlsVerify)}
				if *authFile != "" {
					a = append(a, "--authfile", *authFile)
				}
				if *getLogin {
					user, err := imageHelper(append(a, "--get-login", args[0])...)
					if err != nil {
						return err
					}
					fmt.Println(user)
					return nil
				}
				user, pass, err := loginCredentials(*username, *password, *passwordStdin, args[0])
				if err != nil {
					return err
				}
				if _, err := imageHelperIn(strings.NewReader(pass+"\n"), append(a, "--username", user, args[0])...); err != nil {
					return err
				}
				fmt.Println("Login Succeeded!")
				return nil
			},
		}
	})
	register("logout", func() *command {
		fs := pflag.NewFlagSet("logout", pflag.ContinueOnError)
		authFile := fs.String("authfile", "", "the credentials file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
		all := fs.BoolP("all", "a", false, "remove the credentials of every registry")
		return &command{
			name:  "logout",
			short: "Remove saved credentials for a registry",
			usage: "logout [flags] REGISTRY\n       urun logout --all",
			flags: fs,
			run: func(g *globals, args []string) error {
				if *all != (len(args) == 0) || len(args) > 1 {
					return argsError("logout", "one REGISTRY argument, or --all")
				}
				a := []string{"logout"}
				if *authFile != "" {
					a = append(a, "--authfile", *authFile)
				}
				if *all {
					a = append(a, "--all")
				}
				if _, err := imageHelper(append(a, args...)...); err != nil {
					return err
				}
				if *all {
					fmt.Println("Removed login credentials for all registries")
				} else {
					fmt.Printf("Removed login credentials for %s\n", args[0])
				}
				return nil
			},
		}
	})
}

// loginCredentials gets the username and password from the flags, stdin
// (--password-stdin) or, on a terminal, a prompt.
func loginCredentials(user, pass string, fromStdin bool, registry string) (string, string, error) {
	if fromStdin && pass != "" {
		return "", "", errors.New("--password and --password-stdin are exclusive: give one")
	}
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	if user == "" {
		if fromStdin || !tty {
			return "", "", fmt.Errorf("no username: give one with 'urun login -u USER %s'", registry)
		}
		fmt.Fprint(os.Stderr, "Username: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return "", "", fmt.Errorf("reading the username: %w", err)
		}
		user = strings.TrimSpace(line)
	}
	switch {
	case fromStdin:
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		if err != nil {
			return "", "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	case pass == "" && tty:
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", "", fmt.Errorf("reading the password: %w", err)
		}
		pass = string(b)
	}
	if user == "" || pass == "" {
		return "", "", fmt.Errorf("no password: give it on stdin with 'urun login -u %s --password-stdin %s'", user, registry)
	}
	if strings.ContainsAny(pass, "\n") {
		return "", "", errors.New("the password has a newline in it")
	}
	return user, pass, nil
}
