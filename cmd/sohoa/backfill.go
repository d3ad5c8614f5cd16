package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hibiken/asynq"

	"sohoa/pipeline"
)

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "folder of scans to backfill (walked in lexical order)")
	maxBacklog := fs.Int("max-backlog", 500, "pause while the backfill queue holds more pending tasks than this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return &exitError{2, fmt.Errorf("--dir is required")}
	}
	cfg := loadAppConfig()
	log := newLogger(stderr)
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0)
	if err != nil {
		return err
	}
	defer rt.Close()
	insp := asynq.NewInspector(cfg.redisOpt())
	defer insp.Close()
	bf := &pipeline.Backfill{
		Intake:        rt.intake,
		CheckpointDir: filepath.Join(cfg.LocalDir, "backfill"),
		MaxBacklog:    *maxBacklog,
		Backlog: func(ctx context.Context) (int, error) {
			qi, err := insp.GetQueueInfo(pipeline.QueueBackfill)
			if err != nil {
				return 0, err
			}
			return qi.Pending + qi.Scheduled + qi.Retry, nil
		},
		Log: log,
	}
	rep, err := bf.Run(ctx, pipeline.DirSource{Root: *dir, MaxBytes: rt.intake.MaxFileBytes})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(rep); encErr != nil && err == nil {
		err = encErr
	}
	return err
}
