// Command urun-image copies images into and out of urun's store with
// go.podman.io/image/v5: urun runs it for pull, load and save (and for
// run's pull on first use). It is a program of its own so that urun,
// which every container start executes, does not link the image stack
// and pay its package initialisation (docs/STORE.md).
//
//	urun-image pull --store DIR [--tls-verify=false] [-q] SRC   prints the stored name
//	urun-image load --store DIR [-q] FILE [NAME]                prints the stored name
//	urun-image save --store DIR [-q] [--format F] FILE IMAGE
//	urun-image push --store DIR [--tls-verify=false] [--authfile F] [-q] IMAGE [DEST]   prints the digest
//	(pull --prompt: stdin is a terminal to ask which registry an ambiguous short name means)
//	urun-image login --store DIR [--tls-verify=false] [--authfile F] -u USER REGISTRY   password on stdin
//	urun-image login --store DIR --get-login [--authfile F] REGISTRY                    prints the user
//	urun-image logout --store DIR [--authfile F] (--all | REGISTRY)
//	urun-image resolve --store DIR SHORTNAME   prints the local candidates, records them in shortnames.json
//	urun-image __podman-store                                   in a user namespace: store/podmanstore
//	urun-image __unpack                                         in a user namespace: store/untar (store.RootfsWith)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"go.podman.io/storage/pkg/reexec"

	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/podmanstore"
	"github.com/urun-dev/urun/store/transfer"
	"github.com/urun-dev/urun/store/untar"
)

func main() {
	// containers/storage applies layers in a re-executed copy of this
	// program (pull into podman's store).
	if reexec.Init() {
		return
	}
	if len(os.Args) > 1 && os.Args[1] == podmanstore.Command {
		os.Exit(podmanStoreMain())
	}
	// urun's unpack of an image into a tree of its own (store.RootfsWith).
	if len(os.Args) > 1 && os.Args[1] == store.UnpackCommand {
		os.Exit(untar.Main())
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "urun: %s\n", strings.TrimSpace(err.Error()))
		os.Exit(125)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("urun-image is urun's helper: use urun pull, push, load or save")
	}
	fs := pflag.NewFlagSet(args[0], pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("store", "", "the data directory holding the store")
	tlsVerify := fs.Bool("tls-verify", true, "")
	quiet := fs.BoolP("quiet", "q", false, "")
	format := fs.String("format", "docker-archive", "")
	authFile := fs.String("authfile", os.Getenv("REGISTRY_AUTH_FILE"), "")
	username := fs.StringP("username", "u", "", "")
	getLogin := fs.Bool("get-login", false, "")
	all := fs.Bool("all", false, "")
	prompt := fs.Bool("prompt", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("urun-image: --store is required")
	}
	var s *store.Store
	switch args[0] {
	case "pull", "load", "save", "push":
		var err error
		if s, err = store.OpenStore(*dir); err != nil {
			return err
		}
		s.ShortNames = func(name string) ([]string, error) { return transfer.LocalCandidates(nil, name) }
	}
	o := transfer.TransferOptions{TLSVerify: *tlsVerify, AuthFile: *authFile, BlobInfoCacheDir: filepath.Join(*dir, "cache")}
	if !*quiet {
		o.Progress = os.Stderr
	}
	if args[0] == "pull" {
		o.Overlap = overlapImport(*dir)
	}
	if *prompt {
		// urun passed its terminal as stdin.
		o.Prompt, o.PromptOut = os.Stdin, os.Stderr
	}
	// image/v5 logs through logrus; its warnings are worth seeing.
	logrus.SetOutput(os.Stderr)
	ctx := context.Background()
	rest := fs.Args()
	var name string
	var err error
	switch {
	case args[0] == "pull" && len(rest) == 1:
		name, err = transfer.Pull(ctx, s, rest[0], o)
	case args[0] == "load" && (len(rest) == 1 || len(rest) == 2):
		override := ""
		if len(rest) == 2 {
			override = rest[1]
		}
		name, err = transfer.Load(ctx, s, rest[0], override, o)
	case args[0] == "save" && len(rest) == 2:
		return transfer.Save(ctx, s, rest[1], rest[0], *format, o)
	case args[0] == "push" && (len(rest) == 1 || len(rest) == 2):
		dest := ""
		if len(rest) == 2 {
			dest = rest[1]
		}
		name, err = transfer.Push(ctx, s, rest[0], dest, o)
	case args[0] == "login" && len(rest) == 1:
		return login(ctx, rest[0], *username, *getLogin, o)
	case args[0] == "logout" && (len(rest) == 1 || *all && len(rest) == 0):
		return logout(rest, *all, o)
	case args[0] == "resolve" && len(rest) == 1:
		names, err := transfer.RecordLocalCandidates(*dir, rest[0])
		if err != nil {
			return err
		}
		fmt.Println(strings.Join(names, "\n"))
		return nil
	default:
		return fmt.Errorf("urun-image %s: wrong arguments %q", args[0], rest)
	}
	if err != nil {
		return err
	}
	fmt.Println(name)
	return nil
}

// login checks and saves the credentials; the password is stdin's first
// line (urun never passes it in arguments, where ps would show it).
func login(ctx context.Context, arg, username string, getLogin bool, o transfer.TransferOptions) error {
	key, err := transfer.AuthKey(arg)
	if err != nil {
		return err
	}
	if getLogin {
		user, err := transfer.GetLogin(key, o)
		if err != nil {
			return err
		}
		fmt.Println(user)
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the password: %w", err)
	}
	password := strings.TrimRight(string(b), "\r\n")
	if username == "" || password == "" {
		return errors.New("urun login needs a username and a password")
	}
	where, err := transfer.Login(ctx, key, username, password, o)
	if err != nil {
		return err
	}
	fmt.Println(where)
	return nil
}

func logout(rest []string, all bool, o transfer.TransferOptions) error {
	if all {
		return transfer.Logout("", true, o)
	}
	key, err := transfer.AuthKey(rest[0])
	if err != nil {
		return err
	}
	return transfer.Logout(key, false, o)
}
