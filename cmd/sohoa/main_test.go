package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary act as `sohoa ocr-child` when the OCR pool
// re-executes it, exactly as the real binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "ocr-child" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
