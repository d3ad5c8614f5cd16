package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hibiken/asynq"

	"sohoa/pipeline"
	"sohoa/storage/s3"
)

func runBackfill(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	dir := fs.String("dir", "", "folder of scans to backfill (walked in lexical order)")
	s3Bucket := fs.String("s3-bucket", "", "bucket of an archive to backfill (endpoint and keys: SOHOA_BACKFILL_S3_*, else SOHOA_S3_*)")
	s3Prefix := fs.String("s3-prefix", "", "with --s3-bucket: only keys under this prefix")
	maxBacklog := fs.Int("max-backlog", 500, "pause while the backfill queue holds more pending tasks than this")
	wait := fs.Bool("wait", false, "after submitting, follow every file to its outcome and report them (issued, review, quarantined…, with reasons)")
	waitMax := fs.Duration("wait-max", 24*time.Hour, "with --wait: give up after this long (the rest count as pending)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if (*dir == "") == (*s3Bucket == "") {
		return fs.usageErr("give exactly one of --dir or --s3-bucket")
	}
	log := cfg.logger(stderr)
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0, nil)
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
		Now: cfg.now,
	}
	prog := newProgress(stderr, log)
	bf.Progress = prog.files
	var src pipeline.Source = pipeline.DirSource{Root: *dir, MaxBytes: rt.intake.MaxFileBytes}
	if *s3Bucket != "" {
		src, err = s3.OpenSource(ctx, cfg.backfillS3(*s3Bucket), *s3Prefix, pipeline.ScanExts, rt.intake.MaxFileBytes)
		if err != nil {
			return err
		}
	}
	rep, err := bf.Run(ctx, src)
	prog.finish()
	if err == nil && *wait {
		wctx, cancel := context.WithTimeout(ctx, *waitMax)
		out, werr := bf.Await(wctx, src, 2*time.Second, prog.outcomes)
		cancel()
		prog.finish()
		rep.Outcomes, err = &out, werr
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(rep); encErr != nil && err == nil {
		err = encErr
	}
	return err
}

// progress shows a backfill's progress: a bar with counts, rate and ETA
// when stderr is a terminal, else a plain log line every 15 s (and at the
// end), which a log collector keeps.
type progress struct {
	log      *slog.Logger
	out      io.Writer
	tty      bool
	bar      *progressbar.ProgressBar
	phase    string
	last     time.Time
	done     int
	total    int
	started  time.Time
	now      func() time.Time
	reported bool
}

func newProgress(stderr io.Writer, log *slog.Logger) *progress {
	p := &progress{log: log, out: stderr, now: time.Now}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) start(phase string, total int) {
	p.phase, p.total, p.done, p.started, p.last, p.reported = phase, total, 0, p.now(), p.now(), false
	if p.tty {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.out), progressbar.OptionSetDescription(phase),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("files"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.out) }))
	}
}

func (p *progress) update(done int) {
	p.done = done
	if p.bar != nil {
		p.bar.Set(done)
		return
	}
	if now := p.now(); now.Sub(p.last) >= 15*time.Second {
		p.last = now
		p.line()
	}
}

func (p *progress) line() {
	el := p.now().Sub(p.started).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	eta := "unknown"
	if rate > 0 && p.total >= p.done {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	p.log.Info("backfill progress", "phase", p.phase, "done", p.done, "total", p.total, "files_per_s", fmt.Sprintf("%.2f", rate), "eta", eta)
}

// files follows the submission.
func (p *progress) files(bp pipeline.BackfillProgress) {
	if p.phase != "submitting" {
		p.start("submitting", bp.Total)
	}
	p.update(bp.Done)
}

// outcomes follows --wait.
func (p *progress) outcomes(final, total int) {
	if p.phase != "processing" {
		p.start("processing", total)
	}
	p.update(final)
}

// finish ends the current phase with a last line.
func (p *progress) finish() {
	if p.phase == "" || p.reported {
		return
	}
	p.reported = true
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	p.line()
}
