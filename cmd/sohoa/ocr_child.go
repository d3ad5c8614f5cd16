package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"sohoa/ocr"
	"sohoa/ocr/tesseract"
)

// runOCRChild serves the OCR child protocol on stdin/stdout for a
// tesseract.Pool in the parent. Untrusted scan bytes are decoded and
// recognised only here, under an address-space limit.
func runOCRChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ocr-child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	memLimit := fs.Uint64("mem-limit", ocrChildEnvUint("SOHOA_OCR_MEM_LIMIT", 3<<30),
		"RLIMIT_AS of this process in bytes (0: none); an idle child maps ~1.6 GB of address space")
	lang := fs.String("lang", envOr("SOHOA_OCR_LANG", "vie"), "Tesseract language")
	tessdata := fs.String("tessdata", envOr("SOHOA_TESSDATA", ""), "tessdata directory (default: library default)")
	maxPages := fs.Int("max-pages", ocr.DefaultLimits().MaxPages, "page limit per file")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	// Set the memory limit before anything else is loaded.
	if err := tesseract.SetMemoryLimit(*memLimit); err != nil {
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
		Engine: tesseract.Options{Lang: *lang, TessdataPrefix: *tessdata},
		Limits: lim,
		Logger: logger,
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

func ocrChildEnvUint(name string, def uint64) uint64 {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}
