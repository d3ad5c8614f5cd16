package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"sohoa/ocr"
	"sohoa/ocr/tesseract"
)

// runOCRChild serves the OCR child protocol on stdin/stdout for a
// tesseract.Pool in the parent. Untrusted scan bytes are decoded and
// recognised only here, under an address-space limit.
func runOCRChild(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	maxPages := fs.Int("max-pages", ocr.DefaultLimits().MaxPages, "page limit per file")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	// Set the memory limit before anything else is loaded.
	if err := tesseract.SetMemoryLimit(cfg.OCR.MemLimit); err != nil {
		return fmt.Errorf("ocr-child: %w", err)
	}
	// pdfcpu must not read or create a config directory in this process.
	api.DisableConfigDir()
	// The protocol owns stdout. C libraries may print to fd 1, so move the
	// protocol to a private descriptor and point fd 1 at stderr.
	if stdout == io.Writer(os.Stdout) {
		proto, err := protectStdout()
		if err != nil {
			return fmt.Errorf("ocr-child: %w", err)
		}
		defer proto.Close()
		stdout = proto
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("pid", os.Getpid())
	lim := ocr.DefaultLimits()
	lim.MaxPages = *maxPages
	return tesseract.ServeChild(ctx, os.Stdin, stdout, tesseract.ChildOptions{
		Engine: tesseract.Options{Lang: cfg.OCR.Lang, TessdataPrefix: cfg.OCR.Tessdata},
		Limits: lim,
		Logger: logger,
		Canned: cfg.OCR.Canned,
	})
}

// protectStdout duplicates fd 1 for the protocol and redirects fd 1 to fd 2.
func protectStdout() (*os.File, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	if err := syscall.Dup3(2, 1, 0); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("redirect stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "ocr-protocol"), nil
}
