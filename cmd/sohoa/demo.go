package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"sohoa/pipeline"
	"sohoa/storage"
)

// runDemo runs the whole pipeline in this process on a corpus folder: it
// submits every scan as a counter upload, works the queue until each one has
// an outcome, and prints a summary. Run twice, it reuses what exists.
func runDemo(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	corpus := fs.String("corpus", "../shared/corpus/dev", "folder of scans")
	timeout := fs.Duration("timeout", 20*time.Minute, "give up waiting after this long")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	if err := checkRedis(ctx, cfg); err != nil {
		return err
	}
	rt, err := newPipelineRuntime(ctx, cfg, log, true, runtime.NumCPU(), nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	srv := newAsynqServer(cfg, log, runtime.NumCPU())
	if err := srv.Start(rt.pipe.Mux()); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer srv.Shutdown()

	start := time.Now()
	src := pipeline.DirSource{Root: *corpus, MaxBytes: rt.intake.MaxFileBytes}
	type item struct{ name, key string }
	var items []item
	err = src.Walk(ctx, func(name string) error {
		data, err := src.Read(ctx, name)
		if err != nil {
			return err
		}
		sub, err := rt.intake.Submit(ctx, data, storage.IntakeMeta{Name: name, Source: pipeline.SourceCounter, BatchID: "demo"})
		if err != nil {
			return fmt.Errorf("submit %s: %w", name, err)
		}
		items = append(items, item{name, sub.InputKey})
		return nil
	})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("no scans found under %s", *corpus)
	}
	fmt.Fprintf(stdout, "demo: %d scans submitted from %s; working the queue…\n\n", len(items), *corpus)

	deadline := time.Now().Add(*timeout)
	statuses := make(map[string]pipeline.InputStatus, len(items))
	for {
		pending := 0
		for _, it := range items {
			st, err := rt.intake.Status(ctx, it.key)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("status of %s: %w", it.name, err)
			}
			statuses[it.key] = st
			if st.State == "processing" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d scans still processing after %s", pending, len(items), *timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tDOCUMENT TYPE\tHOLDER ID\tSTATUS\tRESULT")
	var candidates []demoResult
	counts := map[string]int{}
	for _, it := range items {
		st := statuses[it.key]
		counts[st.State]++
		var rec pipeline.Record
		docTypes, holders := "-", "-"
		if err := rt.repo.GetSealedJSON(ctx, storage.RecordKey(it.key), &rec); err == nil {
			var ts, hs []string
			for _, d := range rec.Result.Documents {
				ts = append(ts, d.DocType)
				h := "-"
				if d.HolderPersonalID != "" {
					h = storage.MaskID(d.HolderPersonalID)
				}
				hs = append(hs, h)
			}
			if len(ts) > 0 {
				docTypes, holders = strings.Join(ts, "+"), strings.Join(hs, "+")
			}
		}
		detail := strings.Join(st.Results, ",")
		if st.Quarantine != nil {
			detail = st.Quarantine.Code
		} else if detail == "" && len(st.Review) > 0 {
			detail = strings.Join(reviewReasons(st.Review), ",")
		}
		for _, code := range st.Results {
			candidates = append(candidates, demoResult{code: code, file: it.name})
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.name, docTypes, holders, st.State, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d scans in %s:", len(items), time.Since(start).Round(time.Second))
	for _, s := range []string{"issued", "partly_issued", "review", "kept", "quarantined"} {
		if counts[s] > 0 {
			fmt.Fprintf(stdout, " %d %s", counts[s], s)
		}
	}
	fmt.Fprintf(stdout, "\n\nE-results are in bucket %q at %s under results/%s/YYYY/MM/ (signed PDF + manifest),\n",
		cfg.S3.Bucket, cfg.S3.Endpoint, cfg.AgencyCode)
	fmt.Fprintf(stdout, "indexed by a keyed hash of the citizen ID under index/. Local data: %s\n", cfg.LocalDir)
	fmt.Fprintf(stdout, "\nNext steps, in a new shell at the top of the checkout:\n")
	fmt.Fprintf(stdout, "  eval \"$(deploy/local/stack.sh env)\"   # the local stack's settings (development mode)\n")
	// Suggest a result that is valid now: an expired one answers no
	// search without include_history.
	sample, err := firstValid(ctx, candidates, func(ctx context.Context, code string) (storage.Validity, error) {
		return rt.repo.Validity(ctx, code, cfg.now())
	})
	if err != nil {
		return err
	}
	if sample.code != "" {
		fmt.Fprintf(stdout, "  # %s is valid (from %s): for the README's API examples set CODE to it\n", sample.code, sample.file)
		fmt.Fprintf(stdout, "  # and CITIZEN_ID to the 12-digit holder ID printed on that scan\n")
		fmt.Fprintf(stdout, "  CODE=%s\n", sample.code)
		fmt.Fprintf(stdout, "  bin/sohoa get --code $CODE --out /tmp/$CODE.pdf\n")
		fmt.Fprintf(stdout, "  bin/sohoa verify /tmp/$CODE.pdf\n")
	}
	if counts["review"]+counts["partly_issued"] > 0 {
		fmt.Fprintf(stdout, "  bin/sohoa review list\n")
	}
	fmt.Fprintf(stdout, "  bin/sohoa get --citizen-id -   # type a 12-digit ID printed on a scan, then Ctrl-D\n")
	return nil
}

// demoResult is an issued result and the scan it came from.
type demoResult struct{ code, file string }

// firstValid is the first of results that is valid now (by validity), or
// the zero demoResult when none is.
func firstValid(ctx context.Context, results []demoResult, validity func(context.Context, string) (storage.Validity, error)) (demoResult, error) {
	for _, r := range results {
		v, err := validity(ctx, r.code)
		if err != nil {
			return demoResult{}, fmt.Errorf("validity of %s: %w", r.code, err)
		}
		if v.Valid {
			return r, nil
		}
	}
	return demoResult{}, nil
}

func reviewReasons(ds []pipeline.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Reasons...)
	}
	return out
}
