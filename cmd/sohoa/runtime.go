package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"sohoa/kho"
	"sohoa/ocr"
	"sohoa/ocr/tesseract"
	"sohoa/pipeline"
	"sohoa/signing"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// pipelineRuntime is the wired pipeline a worker (or the demo) runs.
type pipelineRuntime struct {
	cfg    *config
	log    *slog.Logger
	repo   *storage.Repository
	client *asynq.Client
	// queue is client with the configured retry budget on every task.
	queue  pipeline.Enqueuer
	pipe   *pipeline.Pipeline
	intake *pipeline.Intake
	// layouts and procedures (SOHOA_PROCEDURES) the pipeline validates and
	// issues with.
	layouts    *ocr.Layouts
	procedures map[string]string
	// ocr is the OCR child pool (nil without OCR).
	ocr      *tesseract.Pool
	closeFns []func() error
}

func (rt *pipelineRuntime) Close() error {
	var errs []error
	for i := len(rt.closeFns) - 1; i >= 0; i-- {
		errs = append(errs, rt.closeFns[i]())
	}
	return errors.Join(errs...)
}

// newPipelineRuntime opens the repository and the queue and, when withOCR,
// the OCR child pool, the layouts and the signer. m, when not nil, gets the
// pipeline's and the OCR pool's metrics.
func newPipelineRuntime(ctx context.Context, cfg *config, log *slog.Logger, withOCR bool, ocrWorkers int, m *metrics) (*pipelineRuntime, error) {
	rt := &pipelineRuntime{cfg: cfg, log: log}
	repo, err := openRepository(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	rt.client = asynq.NewClient(cfg.redisOpt())
	rt.closeFns = append(rt.closeFns, rt.client.Close)
	if cfg.Kho.URL != "" {
		// Every status change (issue, revoke, suspend, supersede) queues
		// its result's delivery to the Kho at once.
		repo = repo.WithOutboxNotify(khoNotify(rt.client, log))
	}
	rt.repo = repo
	rt.queue = cfg.queue(rt.client)
	opts := pipeline.Options{
		Repo: repo, Queue: rt.queue, Logger: log,
		AgencyCode: cfg.AgencyCode, AgencyName: cfg.AgencyName, Now: cfg.now,
	}
	var poolObs tesseract.PoolObserver
	if m != nil {
		opts.Observer, poolObs = m, m
	}
	// Layouts and procedures are cheap: every runtime has them (serve
	// records review decisions, which are validated against the layouts).
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("load layouts: %w", err)
	}
	procs, err := loadProcedures(cfg, layouts)
	if err != nil {
		rt.Close()
		return nil, err
	}
	opts.Layouts, opts.Procedures = layouts, procs
	if withOCR {
		pool, err := newRecognizer(cfg, ocrWorkers, log, poolObs)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.ocr = pool
		rt.closeFns = append(rt.closeFns, pool.Close)
		iss, closeIss, err := newIssuer(cfg, layouts, opts.Observer)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.closeFns = append(rt.closeFns, closeIss)
		opts.Recognizer, opts.Issuer = pool, iss
		fv, err := foreignVerifier(cfg, log)
		if err != nil {
			rt.Close()
			return nil, err
		}
		if fv != nil {
			opts.Signatures = fv
		}
	}
	rt.layouts, rt.procedures = layouts, procs
	pipe, err := pipeline.New(opts)
	if err != nil {
		rt.Close()
		return nil, err
	}
	rt.pipe = pipe
	rt.intake = pipeline.NewIntake(repo, rt.queue, cfg.AgencyCode, log)
	rt.intake.Now = cfg.now
	rt.intake.Procedures = procs
	return rt, nil
}

// loadProcedures reads SOHOA_PROCEDURES, a JSON object mapping document
// types to the procedure codes (mã TTHC) this installation issues them
// under. Unset, every result type gets a placeholder "DEV-<TYPE>" so the
// demo runs; a production installation must set the real codes.
func loadProcedures(cfg *config, layouts *ocr.Layouts) (map[string]string, error) {
	path := cfg.Procedures
	if path == "" {
		m := map[string]string{}
		for _, t := range layouts.Types() {
			if l, _ := layouts.Layout(t); !l.Application {
				m[t] = "DEV-" + strings.ToUpper(t)
			}
		}
		return m, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SOHOA_PROCEDURES: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("SOHOA_PROCEDURES %s: %w", path, err)
	}
	return m, nil
}

// newAsynqServer makes the asynq server: weighted queues, bounded backoff,
// and asynq's own logging routed through slog (errors only: our
// handlers log their outcomes once, at the boundary).
func newAsynqServer(cfg *config, log *slog.Logger, concurrency int) *asynq.Server {
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	queues := pipeline.Queues()
	if cfg.Kho.URL != "" {
		queues[kho.Queue] = kho.QueueWeight // a worker without the Kho leaves its tasks to one with it
	}
	return asynq.NewServer(cfg.redisOpt(), asynq.Config{
		Concurrency:       concurrency,
		Queues:            queues,
		TaskCheckInterval: cfg.Worker.TaskCheck,
		ShutdownTimeout:   30 * time.Second,
		RetryDelayFunc: func(n int, _ error, t *asynq.Task) time.Duration {
			if t != nil && t.Type() == kho.TypeSync {
				// SOHOA_KHO_BACKOFF doubling up to SOHOA_KHO_BACKOFF_MAX.
				return cfg.khoBackoff().Delay(n)
			}
			// 2s, 4s, 8s … capped at SOHOA_RETRY_MAX_DELAY (5 minutes).
			return min(cfg.Tasks.RetryMaxDelay, time.Duration(math.Pow(2, float64(min(n+1, 30))))*time.Second)
		},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			log.Debug("task error", "type", t.Type(), "task_id", id, "err", err)
		}),
		Logger:   asynqLogger{log},
		LogLevel: asynq.ErrorLevel,
	})
}

// asynqLogger adapts slog to asynq.Logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// budgetQueue enqueues every task with the configured retry budget
// (SOHOA_TASK_MAX_RETRY), overriding the task's own.
type budgetQueue struct {
	q        pipeline.Enqueuer
	maxRetry int
}

func (b budgetQueue) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	return b.q.EnqueueContext(ctx, t, append(opts, asynq.MaxRetry(b.maxRetry))...)
}

// queue is q with the configured retry budget.
func (c *config) queue(q pipeline.Enqueuer) pipeline.Enqueuer {
	return budgetQueue{q: q, maxRetry: max(c.Tasks.MaxRetry, 0)}
}

// sentinels is the list SOHOA_REDIS_SENTINELS gives, empty without Sentinel.
func (c *config) sentinels() []string {
	var out []string
	for _, a := range strings.Split(c.Redis.Sentinels, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// redisOpt is how every asynq client, server and inspector connects: to
// one Redis, or through Redis Sentinel to the current primary of
// SOHOA_REDIS_MASTER, following failovers.
func (c *config) redisOpt() asynq.RedisConnOpt {
	if s := c.sentinels(); len(s) > 0 {
		return asynq.RedisFailoverClientOpt{
			MasterName: c.Redis.Master, SentinelAddrs: s, SentinelPassword: c.Redis.SentinelPassword,
			Password: c.Redis.Password, DB: c.Redis.DB,
		}
	}
	return asynq.RedisClientOpt{Addr: c.Redis.Addr, Password: c.Redis.Password, DB: c.Redis.DB}
}

// redisName names the Redis of the queues in logs and errors: its address,
// or the master name and sentinels.
func (c *config) redisName() string {
	if s := c.sentinels(); len(s) > 0 {
		return fmt.Sprintf("sentinel master %s (%s)", c.Redis.Master, strings.Join(s, ","))
	}
	return c.Redis.Addr
}

// redisClient is a go-redis client on the queues' Redis, made from the
// options asynq uses (with Sentinel: a failover client), for what serve
// keeps there besides queues (staff sessions and failed sign-ins).
func (c *config) redisClient() (redis.UniversalClient, error) {
	rdb, ok := c.redisOpt().MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("redis client: asynq made an unexpected client type")
	}
	return rdb, nil
}

// checkRedis refuses a Redis that can lose or evict queue state: asynq's
// lease and task keys must survive restarts (AOF) and memory pressure
// (noeviction). See reliability.md §1. With Sentinel it checks the current
// primary (every replica must be configured alike: it becomes the primary
// at a failover; deploy/README.md).
func checkRedis(ctx context.Context, c *config) error {
	addr := c.redisName()
	rdb, err := c.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	get := func(name string) (string, error) {
		v, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", fmt.Errorf("redis %s: CONFIG GET %s: %w", addr, name, err)
		}
		return v[name], nil
	}
	aof, err := get("appendonly")
	if err != nil {
		return err
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return err
	}
	var errs []error
	if aof != "yes" {
		errs = append(errs, fmt.Errorf("redis %s: appendonly is %q; set appendonly yes so queued work survives a restart", addr, aof))
	}
	if policy != "noeviction" {
		errs = append(errs, fmt.Errorf("redis %s: maxmemory-policy is %q; set noeviction so task leases are never evicted", addr, policy))
	}
	return errors.Join(errs...)
}

// openRepository opens the e-result repository cfg describes. A bucket
// written with other keys than the configured rings is refused (exit 2)
// before anything is written to it.
func openRepository(ctx context.Context, cfg *config, log *slog.Logger) (*storage.Repository, error) {
	keys, err := cfg.repositoryKeys()
	if err != nil {
		return nil, err
	}
	b, err := s3.Open(ctx, cfg.S3)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	repo, err := storage.Open(ctx, b, storage.Options{Keys: keys, Logger: log, Now: cfg.now})
	if errors.Is(err, storage.ErrKeyMismatch) {
		return nil, &exitError{code: 2, err: fmt.Errorf("refusing to use bucket %s: %w; give the bucket's keys (SOHOA_INDEX_KEY and SOHOA_SEAL_KEY, or the keys folder), "+
			"or point SOHOA_S3_BUCKET at the bucket these keys belong to", cfg.S3.Bucket, err)}
	}
	return repo, err
}

// foreignVerifier is the strict verifier, in child processes, trusting the
// other agencies' CAs of SOHOA_TRUSTED_CAS: the worker checks inputs that
// arrive signed with it, serve the uploads to /v1/verify its own CA does not
// validate. nil when none is configured (every signed input then goes to
// review, and /v1/verify trusts only SOHOA_TRUST_CA).
func foreignVerifier(cfg *config, log *slog.Logger) (*signing.ChildVerifier, error) {
	if cfg.TrustedCAs == "" {
		return nil, nil
	}
	cas, err := signing.LoadCerts(cfg.TrustedCAs)
	if err != nil {
		return nil, fmt.Errorf("SOHOA_TRUSTED_CAS: %w", err)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("SOHOA_TRUSTED_CAS %s: no certificate", cfg.TrustedCAs)
	}
	v, err := signing.NewChildVerifier(signing.ChildOptions{Roots: cas, Now: cfg.now,
		MemoryLimit: cfg.VerifyChild.MemLimit, Timeout: cfg.VerifyChild.Timeout, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("SOHOA_TRUSTED_CAS: %w", err)
	}
	return v, nil
}
