package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"sohoa/api"
)

// runToken prints a short-lived client-credentials JWT for the development
// client "demo-agency", signed with its key under .local/keys, so the reuse
// API can be tried with `Authorization: Bearer`. Each token has a random jti
// and the API accepts it once: mint one per request. Production clients
// mint their own tokens with their own keys.
func runToken(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if !cfg.Dev {
		return &exitError{code: 2, err: errors.New("the development client exists only in development mode (SOHOA_DEV=1); production clients sign their own tokens")}
	}
	dev, err := api.EnsureDevClients(cfg.keysDir(), cfg.AgencyCode)
	if err != nil {
		return fmt.Errorf("development credentials: %w", err)
	}
	tok, err := api.DevToken(dev, cfg.now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
