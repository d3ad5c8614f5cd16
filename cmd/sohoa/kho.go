package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"sohoa/kho"
	"sohoa/signing"
	"sohoa/storage"
)

// khoBackoff is the retry schedule of sync tasks.
func (c *config) khoBackoff() kho.Backoff {
	return kho.Backoff{Base: c.Kho.Backoff, Max: c.Kho.BackoffMax}
}

// khoTLS is the TLS client configuration towards the Kho: the client
// certificate (loaded as the reuse API's server certificate is) and the
// roots of the Kho's server certificate (a PEM bundle, as the API's client
// CA).
func (c *config) khoTLS() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Kho.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Kho.Cert, c.Kho.Key)
		if err != nil {
			return nil, fmt.Errorf("SOHOA_KHO_CERT/SOHOA_KHO_KEY: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if c.Kho.CA != "" {
		pool, err := signing.LoadCertPool(c.Kho.CA)
		if err != nil {
			return nil, fmt.Errorf("SOHOA_KHO_CA: %w", err)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// newKhoSyncer is the worker's handler of kho:sync tasks; nil without
// SOHOA_KHO_URL.
func newKhoSyncer(cfg *config, repo *storage.Repository, log *slog.Logger) (*kho.Syncer, error) {
	if cfg.Kho.URL == "" {
		return nil, nil
	}
	tlsConf, err := cfg.khoTLS()
	if err != nil {
		return nil, err
	}
	sender, err := kho.NewSender(kho.SenderOptions{URL: cfg.Kho.URL, Token: cfg.Kho.Token, TLS: tlsConf, Timeout: cfg.Kho.Timeout})
	if err != nil {
		return nil, fmt.Errorf("SOHOA_KHO_URL: %w", err)
	}
	qk, err := cfg.qrKey()
	if err != nil {
		return nil, err
	}
	return &kho.Syncer{
		Repo: repo, Sender: sender, DeadAfter: cfg.Kho.DeadAfter, Now: cfg.now, Log: log,
		VerifyURL: func(code string) string {
			return signing.VerifyURL(cfg.VerifyBaseURL, code, signing.VerifyToken(qk, code))
		},
	}, nil
}

// khoSweepLoop runs the outbox sweep every SOHOA_KHO_SWEEP_EVERY until ctx
// ends (kho.SweepLoop), logging what it finds.
func khoSweepLoop(ctx context.Context, cfg *config, rt *pipelineRuntime) {
	kho.SweepLoop(ctx, rt.repo, rt.client, cfg.Kho.SweepEvery, 60, func(rep kho.SweepReport, err error) {
		switch {
		case err != nil:
			rt.log.Warn("kho sweep failed", "err", err)
		case rep.Repaired > 0 || rep.Dead > 0 || rep.Enqueued > 0:
			rt.log.Info("kho sweep", "results", rep.Results, "pending", rep.Pending, "dead", rep.Dead,
				"enqueued", rep.Enqueued, "repaired", rep.Repaired)
		}
	})
}

// khoNotify enqueues a result's sync task when an outbox event is stored
// (serve and the worker, with SOHOA_KHO_URL); a failure waits for the
// sweep.
func khoNotify(q kho.Enqueuer, log *slog.Logger) func(ctx context.Context, resultID string) {
	return func(ctx context.Context, resultID string) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := kho.Enqueue(ctx, q, resultID); err != nil {
			log.Warn("kho: enqueue failed; the sweep will queue it", "result_id", resultID, "err", err)
		}
	}
}
