package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"sohoa/audit"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// auditBucket opens the repository bucket, which holds audit/ (serve
// writes the chains there), for reading.
func (c *config) auditBucket(ctx context.Context) (*s3.Bucket, error) {
	sc := c.S3
	sc.Create = false
	b, err := s3.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("open audit bucket: %w", err)
	}
	return b, nil
}

func runAudit(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, `usage: sohoa audit verify [--require-closed] [flags]
       sohoa audit query [--id-type CCCD] [--citizen-id ID | < file-with-ID] [flags]

verify checks every writer's hash chain of the audit log and the heads
each chain saw of the others (exit 1 on a break, naming the batch). query
lists who read a citizen's results, over all chains; the ID is read
from --citizen-id or, when absent, from stdin, hashed with K_audit and never
printed.`)
	}
	if len(args) == 0 {
		usage()
		return &exitError{code: 2, err: errors.New("")}
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, fs, args[1:], stdout)
	case "query":
		return runAuditQuery(ctx, fs, args[1:], os.Stdin, stdout)
	case "-h", "--help", "help":
		usage()
		return nil
	default:
		usage()
		return &exitError{code: 2, err: fmt.Errorf("unknown audit command %q", args[0])}
	}
}

func runAuditVerify(ctx context.Context, fs *flagSet, args []string, stdout io.Writer) error {
	requireClosed := fs.Bool("require-closed", false, "also fail when a chain has no close record (run it when no serve is running)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	b, err := cfg.auditBucket(ctx)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	rep, err := audit.Verify(ctx, b)
	var be *audit.BreakError
	if err != nil && !errors.As(err, &be) {
		return &exitError{code: 2, err: err}
	}
	for _, be := range rep.Breaks {
		fmt.Fprintf(stdout, "audit chain BROKEN in batch %s: %v\n", be.Batch, be)
	}
	open := rep.Open()
	for _, c := range rep.Chains {
		if !c.Closed {
			fmt.Fprintf(stdout, "open chain %s: started %s, %d records up to record %d (a running serve, or a killed one whose write-ahead log is not replayed yet)\n",
				c.Writer, c.Start.Format(time.RFC3339), c.Records, c.Tail.Seq)
		}
	}
	if be != nil {
		return &exitError{code: 1, err: fmt.Errorf("%d breaks; the first: %w", len(rep.Breaks), be)}
	}
	if *requireClosed && len(open) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d chains are not closed", len(open))}
	}
	fmt.Fprintf(stdout, "audit chain OK: %d records in %d batches of %d chains (%d open)\n", rep.Records, rep.Batches, len(rep.Chains), len(open))
	return nil
}

func runAuditQuery(ctx context.Context, fs *flagSet, args []string, stdin io.Reader, stdout io.Writer) error {
	idType := fs.String("id-type", "CCCD", "holder ID type: CCCD, PASSPORT, MST or MSDN")
	idFlag := fs.String("citizen-id", "", "the holder ID (prefer stdin: flags show up in process lists)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
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
	key, err := cfg.auditKey()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	b, err := cfg.auditBucket(ctx)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	h := audit.CitizenHash(key, t, n)
	fmt.Fprintf(stdout, "# reads of citizen hash %s… (time, client, purpose procedure/dossier, endpoint, decision/rule, status, results, fields released)\n", h[:16])
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
		_, err := fmt.Fprintf(stdout, "%s\t%s\t%s/%s\t%s\t%s/%s\t%d\t%s\t%s\n", r.Time.Format("2006-01-02T15:04:05Z"), client,
			r.PurposeProcedure, r.PurposeDossier, r.Endpoint, r.Decision, r.Rule, r.Status, strings.Join(codes, ","),
			strings.Join(r.Released, ","))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit query: %w", err)
	}
	fmt.Fprintf(stdout, "# %d records\n", count)
	return nil
}
