package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"sohoa/internal/bench"
)

// runBench: sohoa bench (make bench). It starts its own serve and workers
// (this binary) against the local stack, on a bucket and a Redis database
// of their own, and writes the report into --out.
func runBench(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	corpus := fs.String("corpus", "../shared/corpus/dev", "comma-separated folders of scans; every scan is measured")
	out := fs.String("out", "docs/bench", "folder of results.md, results.json and the plots")
	work := fs.String("work", ".local/bench", "scratch folder: page images, logs, OCRmyPDF output")
	rounds := fs.Int("rounds", 5, "paired rounds of every tool (0: only the memory phases)")
	ocrmypdfRounds := fs.Int("ocrmypdf-rounds", 3, "rounds of OCRmyPDF (slow), at most --rounds")
	workers := fs.String("workers", "1,2", "worker counts of the pipeline phases; the first is the one the ratios use")
	dossierPages := fs.Int("dossier-pages", 200, "pages of each generated dossier of the memory phase (0: skip)")
	uploads := fs.Int("uploads", 20, "concurrent uploads of the upload memory phase (0: skip)")
	uploadMB := fs.Int("upload-mb", 60, "size of each of those uploads, in MB")
	stackPIDFiles := fs.String("stack-pidfiles", "", "comma-separated PID files of the S3 server and Redis, whose CPU the pipeline phases report apart (make bench: the local stack's)")
	redisDB := fs.Int("bench-redis-db", 9, "Redis database of the bench's pipelines, emptied before each")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find own executable: %w", err)
	}
	var ws []int
	for _, s := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fs.usageErr("--workers: want a comma-separated list of counts ≥ 1, got %q", *workers)
		}
		ws = append(ws, n)
	}
	var dirs []string
	for _, d := range strings.Split(*corpus, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	token, err := cfg.intakeToken()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	flush := func(ctx context.Context) error {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: *redisDB})
		defer rdb.Close()
		return rdb.FlushDB(ctx).Err()
	}
	rep, err := bench.Run(ctx, bench.Options{
		Exe: exe, Corpus: dirs, Out: *out, Work: *work,
		Rounds: *rounds, OCRmyPDFRounds: *ocrmypdfRounds, Parallel: 2, Workers: ws,
		DossierPages: *dossierPages, Uploads: *uploads, UploadMB: *uploadMB,
		Env: os.Environ(), Token: token, RedisDB: *redisDB, Flush: flush, StackPIDs: stackPIDs(*stackPIDFiles),
		Command: "sohoa bench " + strings.Join(args, " "),
		Log:     cfg.logger(stderr),
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	md, err := os.ReadFile(*out + "/results.md")
	if err != nil {
		return err
	}
	_, err = stdout.Write(md)
	_ = rep
	return err
}

// stackPIDs reads the PID files named in list; a missing or unreadable
// one is left out (its CPU is then not reported).
func stackPIDs(list string) []int {
	var pids []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	return pids
}
