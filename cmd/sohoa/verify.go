package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"sohoa/signing"
	"sohoa/storage"
)

// runVerify strictly verifies a signed e-result. Exit status: 0 valid,
// 1 invalid, 2 unusable input (unreadable file, not a PDF, no trust anchors).
func runVerify(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	requireTS := fs.Bool("require-timestamp", false, "reject signatures without an RFC 3161 timestamp")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fs.usageErr("want exactly one FILE")
	}
	file := fs.Arg(0)
	roots, err := cfg.trustRoots()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("read %s: %w", file, err)}
	}
	v, err := signing.Verify(data, signing.VerifyOptions{Roots: roots, RequireTimestamp: *requireTS})
	if errors.Is(err, signing.ErrNotPDF) {
		return &exitError{code: 2, err: fmt.Errorf("%s: %w", file, err)}
	}
	printVerdict(stdout, file, v)
	if err != nil || !v.Valid {
		return &exitError{code: 1, err: nil}
	}
	return nil
}

func printVerdict(w io.Writer, file string, v signing.Verdict) {
	verdict := "INVALID"
	if v.Valid {
		verdict = "VALID"
	}
	fmt.Fprintf(w, "%s: %s\n", file, verdict)
	if v.Signer != "" {
		fmt.Fprintf(w, "  signer:       %s\n", v.Signer)
	}
	if !v.SigningTime.IsZero() {
		fmt.Fprintf(w, "  signing time: %s (claimed by the signer)\n", v.SigningTime.In(storage.Vietnam()).Format("2006-01-02T15:04:05-07:00"))
	}
	if v.Timestamp != nil {
		fmt.Fprintf(w, "  timestamp:    %s (RFC 3161)\n", v.Timestamp.In(storage.Vietnam()).Format("2006-01-02T15:04:05-07:00"))
	}
	if v.SubFilter != "" {
		fmt.Fprintf(w, "  subfilter:    %s\n  byte range:   %v\n", v.SubFilter, v.ByteRange)
	}
	if len(v.Reasons) > 0 {
		fmt.Fprintf(w, "  reasons:\n    - %s\n", strings.Join(v.Reasons, "\n    - "))
	}
}
