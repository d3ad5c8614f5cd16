package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"sohoa/signing"
)

// runVerifyChild verifies one PDF for a signing.ChildVerifier in the parent
// (`sohoa serve` checking an upload): the request arrives on stdin, the
// verdict leaves on stdout. Untrusted PDF bytes are parsed only here, under
// an address-space and a stack limit.
func runVerifyChild(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if err := signing.ServeVerifyChild(os.Stdin, stdout); err != nil {
		return fmt.Errorf("verify-child: %w", err)
	}
	return nil
}
