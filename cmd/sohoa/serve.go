package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"sohoa/api"
)

// runServe runs two listeners:
//   - the counter intake: the staff web app at / (sign-in, the upload page,
//     the reviewers' and supervisors' pages; package web) and the intake API
//     (POST /v1/batches, GET /v1/inputs/…) for scripts with the bearer token
//     and for the upload page with a counter's session; plain HTTP, bound to
//     loopback by default (put it behind the office's TLS proxy and set
//     SOHOA_PUBLIC_URL);
//   - the reuse API for other systems and the public QR pages, TLS, with
//     client certificates or signed JWTs (see api/).
//   - the operations listener (SOHOA_OPS_ADDR, loopback): /metrics,
//     /healthz, /readyz and the queue monitor at /ops/queues/ (ops.go).
//
// One audit log (one hash chain per process) records the first two.
func runServe(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	m := newMetrics()
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0, m)
	if err != nil {
		return err
	}
	defer rt.Close()
	if rt.intake.Token, err = cfg.intakeToken(); err != nil {
		return err
	}
	rt.intake.MaxFiles = cfg.Intake.MaxFiles
	rt.intake.CallerRate = api.RateLimit{RPS: float64(cfg.Intake.FilesPerMinute) / 60, Burst: cfg.Intake.MaxFiles}
	alog, err := openAuditLog(ctx, cfg, rt, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeAuditLog(alog); err != nil {
			log.Error("close audit log", "err", err)
		}
	}()
	rdb, err := cfg.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	app, err := newWebApp(ctx, cfg, rt, alog, rdb, log)
	if err != nil {
		return err
	}
	rt.intake.Authorize = app.Authorize
	if app.OIDCEnabled() {
		// Discovery is lazy and retried at each sign-in: a provider that is
		// down must not stop serve. This only says at start whether it
		// answers (bounded by the web app's timeout).
		go func() {
			if err := app.CheckOIDC(ctx); err != nil {
				log.Warn("single sign-on: the OpenID provider does not answer yet; password sign-in works, single sign-on retries at each attempt", "err", err)
				return
			}
			log.Info("single sign-on ready", "issuer", cfg.Web.OIDC.Issuer)
		}()
	}

	ready := readiness(log, commonChecks(cfg, rt)...)
	servers := []*http.Server{newHTTPServer(cfg.Intake.Addr, intakeListener(rt.intake.Handler(), app.Handler(), ready), log)}
	if cfg.API.Addr != "" {
		srv, err := newAPIServer(cfg, rt, alog, m, log)
		if err != nil {
			return err
		}
		servers = append(servers, srv)
	}
	if addr := opsAddr(cfg.Ops.Addr); addr != "" {
		token, err := cfg.opsToken()
		if err != nil {
			return err
		}
		insp := asynq.NewInspector(cfg.redisOpt())
		defer insp.Close()
		m.watchQueues(insp, log)
		m.watchReviews(rt.repo, cfg.now, 30*time.Second, log)
		m.watchAudit(alog)
		mon := newQueueMonitor(cfg)
		defer mon.Close()
		ops := &opsListener{metrics: m, ready: ready, queues: mon, token: token, roleOf: app.SessionRole, log: log}
		servers = append(servers, newHTTPServer(addr, ops.handler(), log))
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		g.Go(func() error {
			var err error
			if s.TLSConfig != nil {
				err = s.ServeTLS(ln, "", "")
			} else {
				err = s.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		})
	}
	log.Info("serving", "intake", "http://"+cfg.Intake.Addr, "api", cfg.API.Addr, "ops", opsAddr(cfg.Ops.Addr))
	g.Go(func() error {
		<-gctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.Shutdown(shut))
		}
		return errors.Join(errs...)
	})
	return g.Wait()
}

// intakeListener routes the intake listener: the intake API under /v1/,
// /healthz and /readyz, the staff web app everywhere else.
func intakeListener(intake, app, ready http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", intake)
	mux.Handle("GET /healthz", intake)
	mux.Handle("GET /readyz", ready)
	mux.Handle("/", app)
	return mux
}

func newHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // large batches over slow counter links
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
