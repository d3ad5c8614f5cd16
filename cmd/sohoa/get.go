package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"sohoa/storage"
)

// runGet lists a citizen's e-results, or downloads one by result code,
// straight from the repository (operators' tool; other systems use the API).
// The ID is taken from --citizen-id, or from standard input with "-", and is
// never printed.
func runGet(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	citizen := fs.String("citizen-id", "", `12-digit personal ID ("-": read it from standard input)`)
	idType := fs.String("id-type", "CCCD", "holder ID type")
	code := fs.String("code", "", "result code to download")
	out := fs.String("out", "", "with --code: file to write the signed PDF to")
	dir := fs.String("download", "", "with --citizen-id: folder to write every listed PDF to")
	docType := fs.String("doc-type", "", "only this document type")
	history := fs.Bool("history", false, "include results that are not valid (revoked, expired, superseded)")
	validAt := fs.String("valid-at", "", "judge validity at this RFC 3339 time (default now)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	at := time.Time{}
	if *validAt != "" {
		t, err := time.Parse(time.RFC3339, *validAt)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--valid-at: %w", err)}
		}
		at = t
	}
	repo, err := openRepository(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	switch {
	case *code != "":
		if *out == "" {
			return &exitError{code: 2, err: errors.New("--code needs --out FILE")}
		}
		m, err := download(ctx, repo, *code, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d bytes, sha256 %s, written to %s\n", m.ResultCode, m.File.Size, m.File.SHA256, *out)
		return nil
	case *citizen != "":
		id := *citizen
		if id == "-" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read citizen ID: %w", err)
			}
			id = strings.TrimSpace(line)
		}
		hits, err := repo.Search(ctx, storage.Query{IDType: *idType, ID: id, DocType: *docType, ValidAt: at, IncludeHistory: *history})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RESULT CODE\tDOCUMENT TYPE\tISSUED\tVALID UNTIL\tVALID\tREASON\tSHA256")
		for _, h := range hits {
			vu := "-"
			if h.ValidUntil != nil {
				vu = h.ValidUntil.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%.16s\n", h.ResultCode, h.DocType, h.IssuedAt, vu, h.Validity.Valid, h.Validity.Reason, h.File.SHA256)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d result(s) for holder ********%s\n", len(hits), lastN(id, 4))
		if *dir != "" {
			for _, h := range hits {
				p := filepath.Join(*dir, h.ResultCode+".pdf")
				if _, err := download(ctx, repo, h.ResultCode, p); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s\n", p)
			}
		}
		return nil
	}
	return &exitError{code: 2, err: errors.New("give --citizen-id ID (or -) to list, or --code CODE --out FILE to download")}
}

// download streams a result's PDF to path; the repository verifies its
// checksum, and a mismatch leaves no file behind.
func download(ctx context.Context, repo *storage.Repository, code, path string) (storage.Manifest, error) {
	rc, m, err := repo.OpenPDF(ctx, code)
	if err != nil {
		return m, fmt.Errorf("open %s: %w", code, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return m, err
	}
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return m, err
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return m, fmt.Errorf("download %s: %w", code, err)
	}
	return m, os.Rename(tmp, path)
}

func lastN(s string, n int) string {
	if len(s) <= n {
		return ""
	}
	return s[len(s)-n:]
}
