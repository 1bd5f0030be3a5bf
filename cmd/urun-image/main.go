// Command urun-image copies images into and out of urun's store with
// go.podman.io/image/v5: urun runs it for pull, load and save (and for
// run's pull on first use). It is a program of its own so that urun,
// which every container start executes, does not link the image stack
// and pay its package initialisation (docs/STORE.md).
//
//	urun-image pull --store DIR [--tls-verify=false] [-q] SRC   prints the stored name
//	urun-image load --store DIR [-q] FILE [NAME]                prints the stored name
//	urun-image save --store DIR [-q] [--format F] FILE IMAGE
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/urun-dev/urun/store"
	"github.com/urun-dev/urun/store/transfer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "urun: %s\n", strings.TrimSpace(err.Error()))
		os.Exit(125)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("urun-image is urun's helper: use urun pull, load or save")
	}
	fs := pflag.NewFlagSet(args[0], pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("store", "", "the data directory holding the store")
	tlsVerify := fs.Bool("tls-verify", true, "")
	quiet := fs.BoolP("quiet", "q", false, "")
	format := fs.String("format", "docker-archive", "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("urun-image: --store is required")
	}
	s, err := store.OpenStore(*dir)
	if err != nil {
		return err
	}
	o := transfer.TransferOptions{TLSVerify: *tlsVerify}
	if !*quiet {
		o.Progress = os.Stderr
	}
	// image/v5 logs through logrus; its warnings are worth seeing.
	logrus.SetOutput(os.Stderr)
	ctx := context.Background()
	rest := fs.Args()
	var name string
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
	default:
		return fmt.Errorf("urun-image %s: wrong arguments %q", args[0], rest)
	}
	if err != nil {
		return err
	}
	fmt.Println(name)
	return nil
}
