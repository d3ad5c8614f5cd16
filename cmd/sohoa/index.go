package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"sohoa/storage"
)

const indexUsage = `usage: sohoa index <action>

actions:
  rebuild   recreate every citizen-index entry from the manifests (current index key)
  lint      list every key in the bucket and fail if one could hold a citizen ID`

func runIndex(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, indexUsage)
		if len(args) == 0 {
			return &exitError{code: 2, err: errors.New("")}
		}
		return flag.ErrHelp
	}
	cfg, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "rebuild", "lint":
	default:
		fmt.Fprintln(stderr, indexUsage)
		return &exitError{code: 2, err: fmt.Errorf("unknown action %q", args[0])}
	}
	repo, err := openRepository(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	if args[0] == "lint" {
		return lintKeys(ctx, repo.Bucket(), stdout)
	}
	n, err := repo.RebuildIndex(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "indexed %d results under kid %s\n", n, repo.IndexKID())
	return nil
}

// lintKeys checks every key with storage.CheckKey; a key that fails is
// reported (redacted by CheckKey) and the command exits 1.
func lintKeys(ctx context.Context, b storage.Bucket, stdout io.Writer) error {
	n, bad := 0, 0
	err := b.List(ctx, "", func(o storage.ObjectInfo) error {
		n++
		if err := storage.CheckKey(o.Key); err != nil {
			bad++
			fmt.Fprintln(stdout, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index lint: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d keys, %d refused\n", n, bad)
	if bad > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d keys could hold a citizen ID", bad)}
	}
	return nil
}
