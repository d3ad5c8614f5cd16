package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"sohoa/pipeline"
)

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrency := fs.Int("concurrency", envInt("SOHOA_WORKER_CONCURRENCY", runtime.NumCPU()), "tasks processed at once (env SOHOA_WORKER_CONCURRENCY)")
	ocrChildren := fs.Int("ocr-children", envInt("SOHOA_OCR_CHILDREN", runtime.NumCPU()), "OCR child processes (env SOHOA_OCR_CHILDREN)")
	reconcile := fs.Duration("reconcile", 10*time.Minute, "how often to re-enqueue intake objects Redis lost (0: only at start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := loadAppConfig()
	log := newLogger(stderr)
	if err := checkRedis(ctx, cfg); err != nil {
		return err
	}
	rt, err := newPipelineRuntime(ctx, cfg, log, true, *ocrChildren)
	if err != nil {
		return err
	}
	defer rt.Close()
	srv := newAsynqServer(cfg, log, *concurrency)
	if err := srv.Start(rt.pipe.Mux()); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker started", "redis", cfg.RedisAddr, "concurrency", *concurrency, "ocr_children", *ocrChildren)
	go reconcileLoop(ctx, rt, *reconcile)
	<-ctx.Done()
	log.Info("worker stopping")
	srv.Shutdown()
	return nil
}

// reconcileLoop re-enqueues intake objects that have neither a record nor a
// quarantine entry (Redis lost them, or enqueue failed after the intake was
// stored). Task IDs make it harmless to run on every worker.
func reconcileLoop(ctx context.Context, rt *pipelineRuntime, every time.Duration) {
	for {
		n, err := pipeline.Reconcile(ctx, rt.repo, rt.client)
		if err != nil && ctx.Err() == nil {
			rt.log.Warn("reconcile failed", "err", err)
		} else if n > 0 {
			rt.log.Info("reconciled lost intake", "requeued", n)
		}
		if every <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
