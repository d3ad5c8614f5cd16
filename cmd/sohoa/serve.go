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

	"golang.org/x/sync/errgroup"

	"sohoa/api"
)

// runServe runs two listeners:
//   - the counter intake (upload page, POST /v1/batches, GET /v1/inputs/…),
//     plain HTTP, bound to loopback by default (put it behind the office's
//     reverse proxy and SSO, or set SOHOA_INTAKE_TOKEN);
//   - the reuse API for other systems and the public QR pages, TLS, with
//     client certificates or signed JWTs (see api/).
func runServe(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0)
	if err != nil {
		return err
	}
	defer rt.Close()
	if rt.intake.Token, err = cfg.intakeToken(); err != nil {
		return err
	}
	rt.intake.MaxFiles = cfg.Intake.MaxFiles
	rt.intake.CallerRate = api.RateLimit{RPS: float64(cfg.Intake.FilesPerMinute) / 60, Burst: cfg.Intake.MaxFiles}

	servers := []*http.Server{newHTTPServer(cfg.Intake.Addr, rt.intake.Handler(), log)}
	if cfg.API.Addr != "" {
		api, err := newAPIServer(ctx, cfg, rt, log)
		if err != nil {
			return err
		}
		defer api.close()
		servers = append(servers, api.srv)
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
	log.Info("serving", "intake", "http://"+cfg.Intake.Addr, "api", cfg.API.Addr)
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
