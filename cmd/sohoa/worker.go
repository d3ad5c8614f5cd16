package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"sohoa/pipeline"
)

func runWorker(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	concurrency, children := cfg.Worker.Concurrency, cfg.Worker.OCRChildren
	if concurrency == 0 {
		concurrency = runtime.NumCPU()
	}
	if children == 0 {
		children = runtime.NumCPU()
	}
	log := cfg.logger(stderr)
	if err := checkRedis(ctx, cfg); err != nil {
		return err
	}
	rt, err := newPipelineRuntime(ctx, cfg, log, true, children)
	if err != nil {
		return err
	}
	defer rt.Close()
	srv := newAsynqServer(cfg, log, concurrency)
	if err := srv.Start(rt.pipe.Mux()); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker started", "redis", cfg.Redis.Addr, "concurrency", concurrency, "ocr_children", children)
	go reconcileLoop(ctx, rt, cfg.Worker.Reconcile)
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
