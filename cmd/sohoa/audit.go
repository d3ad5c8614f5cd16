package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sohoa/audit"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// auditConfig selects the bucket holding audit/ and K_audit.
type auditConfig struct {
	S3Endpoint, S3AccessKey, S3SecretKey, Bucket string
	S3Secure                                     bool
	KeyFile                                      string // K_audit as hex; SOHOA_AUDIT_KEY (hex) wins
}

func auditFlags(fs *flag.FlagSet) *auditConfig {
	c := &auditConfig{
		S3Endpoint:  envOr("SOHOA_S3_ENDPOINT", "127.0.0.1:17070"),
		S3AccessKey: envOr("SOHOA_S3_ACCESS_KEY", ""),
		S3SecretKey: envOr("SOHOA_S3_SECRET_KEY", ""),
		S3Secure:    envOr("SOHOA_S3_SECURE", "") == "true",
	}
	fs.StringVar(&c.Bucket, "bucket", envOr("SOHOA_AUDIT_BUCKET", envOr("SOHOA_S3_BUCKET", "sohoa")),
		"bucket holding audit/ (env SOHOA_AUDIT_BUCKET, else SOHOA_S3_BUCKET)")
	fs.StringVar(&c.KeyFile, "audit-key-file", envOr("SOHOA_AUDIT_KEY_FILE", filepath.Join(loadAppConfig().keysDir(), "audit.key")),
		"file with K_audit as hex (env SOHOA_AUDIT_KEY_FILE; SOHOA_AUDIT_KEY holds the hex itself)")
	return c
}

func (c *auditConfig) open(ctx context.Context) (*s3.Bucket, error) {
	b, err := s3.Open(ctx, s3.Config{Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey,
		Bucket: c.Bucket, Secure: c.S3Secure})
	if err != nil {
		return nil, fmt.Errorf("open audit bucket: %w", err)
	}
	return b, nil
}

func (c *auditConfig) key() ([]byte, error) {
	h, ok := os.LookupEnv("SOHOA_AUDIT_KEY")
	if !ok {
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("K_audit: %w", err)
		}
		h = string(b)
	}
	k, err := hex.DecodeString(strings.TrimSpace(h))
	if err != nil || len(k) < 16 {
		return nil, errors.New("K_audit: want at least 16 bytes as hex")
	}
	return k, nil
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, `usage: sohoa audit verify [flags]
       sohoa audit query [--id-type CCCD] [--citizen-id ID | < file-with-ID] [flags]

verify checks the whole hash chain of the audit log (exit 1 on a break,
naming the batch). query lists who read a citizen's results; the ID is read
from --citizen-id or, when absent, from stdin, hashed with K_audit and never
printed.`)
	}
	if len(args) == 0 {
		usage()
		return &exitError{code: 2, err: errors.New("")}
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "query":
		return runAuditQuery(ctx, args[1:], os.Stdin, stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return nil
	default:
		usage()
		return &exitError{code: 2, err: fmt.Errorf("unknown audit command %q", args[0])}
	}
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := auditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	b, err := cfg.open(ctx)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	rep, err := audit.Verify(ctx, b)
	var be *audit.BreakError
	if errors.As(err, &be) {
		fmt.Fprintf(stdout, "audit chain BROKEN in batch %s: %v (%d records verified before it)\n", be.Batch, be, rep.Records)
		return &exitError{code: 1, err: be}
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintf(stdout, "audit chain OK: %d records in %d batches, last hash %s\n", rep.Records, rep.Batches, rep.LastHash)
	return nil
}

func runAuditQuery(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := auditFlags(fs)
	idType := fs.String("id-type", "CCCD", "holder ID type: CCCD, PASSPORT, MST or MSDN")
	idFlag := fs.String("citizen-id", "", "the holder ID (prefer stdin: flags show up in process lists)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	id := *idFlag
	if id == "" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 256)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return &exitError{code: 2, err: fmt.Errorf("read ID from stdin: %w", err)}
		}
		id = strings.TrimSpace(line)
	}
	t, n, err := storage.NormalizeHolderID(*idType, id)
	if err != nil {
		return &exitError{code: 2, err: err} // the error never contains the ID
	}
	key, err := cfg.key()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	b, err := cfg.open(ctx)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	h := audit.CitizenHash(key, t, n)
	fmt.Fprintf(stdout, "# reads of citizen hash %s… (time, client, purpose procedure/dossier, endpoint, decision/rule, status, results)\n", h[:16])
	count := 0
	err = audit.Query(ctx, b, h, func(r audit.Record) error {
		count++
		var codes []string
		for _, x := range r.Returned {
			codes = append(codes, x.ResultCode)
		}
		client := r.ClientID
		if client == "" {
			client = "(unauthenticated)"
		}
		_, err := fmt.Fprintf(stdout, "%s\t%s\t%s/%s\t%s\t%s/%s\t%d\t%s\n", r.Time.Format("2006-01-02T15:04:05Z"), client,
			r.PurposeProcedure, r.PurposeDossier, r.Endpoint, r.Decision, r.Rule, r.Status, strings.Join(codes, ","))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit query: %w", err)
	}
	fmt.Fprintf(stdout, "# %d records\n", count)
	return nil
}
