package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/kho"
	"sohoa/pipeline"
)

func runWorker(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	concurrency, children := cfg.Worker.Concurrency, cfg.Worker.OCRChildren
	if children == 0 {
		children = runtime.NumCPU()
	}
	if concurrency == 0 {
		// One task more than OCR children: while a task stores its pages
		// and record, or an issue task renders, signs and files a
		// result, the next file is already being recognised.
		concurrency = children + 1
	}
	log := cfg.logger(stderr)
	if cfg.Worker.MemLimit > 0 {
		debug.SetMemoryLimit(int64(min(cfg.Worker.MemLimit, math.MaxInt64)))
	}
	if err := checkRedis(ctx, cfg); err != nil {
		return err
	}
	m := newMetrics()
	rt, err := newPipelineRuntime(ctx, cfg, log, true, children, m)
	if err != nil {
		return err
	}
	defer rt.Close()
	insp := asynq.NewInspector(cfg.redisOpt())
	defer insp.Close()
	// The operations listener first: a port in use fails the start before
	// any task is taken.
	var ops *http.Server
	if addr := opsAddr(cfg.Ops.WorkerAddr); addr != "" {
		m.watchQueues(insp, log)
		checks := append(commonChecks(cfg, rt), readyCheck{"ocr", func(context.Context) error { return rt.ocr.Up() }})
		h := (&opsListener{metrics: m, ready: readiness(log, checks...), log: log}).handler()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s (SOHOA_WORKER_OPS_ADDR; give each worker on a machine its own --ops-addr, or 0): %w", addr, err)
		}
		ops = newHTTPServer(addr, h, log)
		go func() {
			if err := ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("operations listener", "err", err)
			}
		}()
	}
	mux := rt.pipe.Mux()
	syncer, err := newKhoSyncer(cfg, rt.repo, log)
	if err != nil {
		return err
	}
	if syncer != nil {
		mux.Handle(kho.TypeSync, syncer)
	} else {
		log.Info("kho: SOHOA_KHO_URL unset: outbox events are recorded and stay pending until it is set")
	}
	srv := newAsynqServer(cfg, log, concurrency)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("worker started", "redis", cfg.redisName(), "concurrency", concurrency, "ocr_children", children, "ops", opsAddr(cfg.Ops.WorkerAddr))
	rec := newReconciler(cfg, rt, insp, log)
	done := make(chan struct{})
	go func() { defer close(done); reconcileLoop(ctx, cfg, rt, rec) }()
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		if syncer != nil {
			khoSweepLoop(ctx, cfg, rt)
		}
	}()
	<-ctx.Done()
	log.Info("worker stopping")
	srv.Shutdown()
	<-done
	<-swept
	if ops != nil {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ops.Shutdown(shut)
	}
	return nil
}

// newReconciler is the reconciler of the worker and `sohoa reconcile`.
func newReconciler(cfg *config, rt *pipelineRuntime, insp pipeline.TaskInspector, log *slog.Logger) *pipeline.Reconciler {
	return &pipeline.Reconciler{
		Repo: rt.repo, Queue: rt.queue, Tasks: insp, Log: log, Now: cfg.now,
		FullEvery: cfg.Worker.ReconcileFull, RoundCooldown: cfg.Worker.ReconcileCooldown,
	}
}

// redisEpochKey is set (never expiring) in the queues' Redis by the first
// reconcile pass that finds it missing: a later pass that finds it missing
// again knows Redis lost its data (FLUSHALL, a restart without AOF, a
// failover to an empty replica) and lists the whole intake at once.
const redisEpochKey = "sohoa:reconcile:epoch"

// reconcileLoop runs the reconciler every cfg.Worker.Reconcile (once at
// start when 0): it re-dispatches whatever inputs not yet final need and
// Redis does not hold (Redis lost it, an enqueue failed after the intake
// was stored, an approval's enqueue failed, a task exhausted its retries).
// Task IDs make it harmless on every worker.
func reconcileLoop(ctx context.Context, cfg *config, rt *pipelineRuntime, rec *pipeline.Reconciler) {
	rdb, err := cfg.redisClient()
	if err != nil {
		rt.log.Warn("reconcile: no redis client; Redis data loss is found by the periodic full pass only", "err", err)
	}
	if rdb != nil {
		defer rdb.Close()
	}
	every := cfg.Worker.Reconcile
	for {
		if rdb != nil {
			if fresh, err := rdb.SetNX(ctx, redisEpochKey, cfg.now().UTC().Format(time.RFC3339), 0).Result(); err == nil && fresh {
				rec.ForceFull() // first pass ever, or Redis lost its data
			}
		}
		rep, err := rec.Pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			rt.log.Warn("reconcile failed", "err", err, "looked", rep.Looked)
		case rep.Dispatched() > 0 || rep.Full:
			rt.log.Info("reconciled", "full", rep.Full, "looked", rep.Looked, "open", rep.Open, "dispatched", rep.Dispatched())
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
