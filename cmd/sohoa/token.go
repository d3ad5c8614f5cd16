package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"sohoa/api"
)

// runToken prints a short-lived client-credentials JWT for the development
// client "demo-agency", signed with its key under .local/keys, so the reuse
// API can be tried with `Authorization: Bearer`. Production clients mint
// their own tokens with their own keys.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dev, err := api.EnsureDevClients(loadAppConfig().keysDir())
	if err != nil {
		return fmt.Errorf("development credentials: %w", err)
	}
	tok, err := api.DevToken(dev, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
