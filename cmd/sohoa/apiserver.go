package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"sohoa/api"
	"sohoa/audit"
	"sohoa/signing"
)

// apiServer is the reuse API listener and the audit log behind it.
type apiServer struct {
	srv  *http.Server
	alog *audit.Log
}

func (a *apiServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return a.alog.Close(ctx)
}

// apiConfig locates the API's credentials. Unset, they are the development
// credentials generated once under .local/keys (client CA, demo-agency
// client certificate and JWT key, a loopback server certificate, K_audit,
// K_qr and clients.json).
type apiConfig struct {
	ClientsFile, ServerCert, ServerKey, ClientCA string
	AuditKeyFile, QRKeyFile                      string
}

func apiConfigFromEnv(cfg appConfig) (apiConfig, error) {
	c := apiConfig{
		ClientsFile:  envOr("SOHOA_API_CLIENTS", ""),
		ServerCert:   envOr("SOHOA_API_CERT", ""),
		ServerKey:    envOr("SOHOA_API_KEY", ""),
		ClientCA:     envOr("SOHOA_API_CLIENT_CA", ""),
		AuditKeyFile: envOr("SOHOA_AUDIT_KEY_FILE", ""),
		QRKeyFile:    envOr("SOHOA_QR_KEY_FILE", ""),
	}
	if c.ClientsFile != "" && c.ServerCert != "" && c.ServerKey != "" && c.AuditKeyFile != "" && c.QRKeyFile != "" {
		return c, nil
	}
	dev, err := api.EnsureDevClients(cfg.keysDir())
	if err != nil {
		return c, fmt.Errorf("development API credentials: %w", err)
	}
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&c.ClientsFile, dev.ClientsJSON)
	set(&c.ServerCert, dev.ServerCert)
	set(&c.ServerKey, dev.ServerKey)
	set(&c.ClientCA, dev.ClientCA)
	set(&c.AuditKeyFile, dev.AuditKey)
	set(&c.QRKeyFile, dev.QRKey)
	return c, nil
}

func newAPIServer(ctx context.Context, cfg appConfig, rt *pipelineRuntime, addr string, log *slog.Logger) (*apiServer, error) {
	ac, err := apiConfigFromEnv(cfg)
	if err != nil {
		return nil, err
	}
	clients, err := api.LoadClients(ac.ClientsFile)
	if err != nil {
		return nil, err
	}
	var clientCAs *x509.CertPool
	if ac.ClientCA != "" {
		if clientCAs, err = signing.LoadCertPool(ac.ClientCA); err != nil {
			return nil, err
		}
	}
	tlsConf, err := api.ServerTLSConfig(ac.ServerCert, ac.ServerKey)
	if err != nil {
		return nil, err
	}
	auditKey, err := api.ReadHexKey(ac.AuditKeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	qrKey, err := api.ReadHexKey(ac.QRKeyFile)
	if err != nil {
		return nil, fmt.Errorf("QR key: %w", err)
	}
	trust, err := signerConfigFromEnv(cfg).roots()
	if err != nil {
		// The development CA appears with the first signing key; make it now.
		if _, derr := signing.EnsureDevKeys(signerConfigFromEnv(cfg).DevDir); derr != nil {
			return nil, err
		}
		if trust, err = signerConfigFromEnv(cfg).roots(); err != nil {
			return nil, err
		}
	}
	alog, err := audit.Open(ctx, audit.Options{
		Store:  rt.repo.Bucket(),
		WALDir: filepath.Join(cfg.LocalDir, "audit-wal"),
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	h, err := api.New(api.Options{
		Repo: rt.repo, Clients: clients, ClientCAs: clientCAs, Audit: alog,
		AuditKey: auditKey, QRKey: qrKey, Logger: log,
		VerifyPDF: func(_ context.Context, pdf []byte) error {
			v, err := signing.Verify(pdf, signing.VerifyOptions{Roots: trust})
			if err == nil && !v.Valid {
				err = errors.New("signature invalid")
			}
			return err
		},
	})
	if err != nil {
		alog.Close(ctx)
		return nil, err
	}
	srv := api.NewServer(addr, h, tlsConf)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	return &apiServer{srv: srv, alog: alog}, nil
}
