package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"

	"github.com/hibiken/asynq"

	"sohoa/pipeline"
	"sohoa/storage/s3"
)

func runBackfill(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	dir := fs.String("dir", "", "folder of scans to backfill (walked in lexical order)")
	s3Bucket := fs.String("s3-bucket", "", "bucket of an archive to backfill (endpoint and keys: SOHOA_BACKFILL_S3_*, else SOHOA_S3_*)")
	s3Prefix := fs.String("s3-prefix", "", "with --s3-bucket: only keys under this prefix")
	maxBacklog := fs.Int("max-backlog", 500, "pause while the backfill queue holds more pending tasks than this")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if (*dir == "") == (*s3Bucket == "") {
		return fs.usageErr("give exactly one of --dir or --s3-bucket")
	}
	log := cfg.logger(stderr)
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
	var src pipeline.Source = pipeline.DirSource{Root: *dir, MaxBytes: rt.intake.MaxFileBytes}
	if *s3Bucket != "" {
		src, err = s3.OpenSource(ctx, cfg.backfillS3(*s3Bucket), *s3Prefix, pipeline.ScanExts, rt.intake.MaxFileBytes)
		if err != nil {
			return err
		}
	}
	rep, err := bf.Run(ctx, src)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(rep); encErr != nil && err == nil {
		err = encErr
	}
	return err
}
