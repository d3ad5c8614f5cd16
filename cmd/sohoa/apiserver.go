package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"sohoa/api"
	"sohoa/api/reuse"
	"sohoa/audit"
	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
)

// openAuditLog opens this serve process's audit log: one writer with its
// own chain and its own locked folder under audit-wal (it replays what
// killed writers left there). The reuse API and the staff web app share it.
func openAuditLog(ctx context.Context, cfg *config, rt *pipelineRuntime, log *slog.Logger) (*audit.Log, error) {
	alog, err := audit.Open(ctx, audit.Options{
		Store:    rt.repo.Bucket(),
		WALDir:   filepath.Join(cfg.LocalDir, "audit-wal"),
		MaxDelay: cfg.AuditFlush,
		Now:      cfg.now,
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return alog, nil
}

// closeAuditLog stores the last batch and closes the chain.
func closeAuditLog(alog *audit.Log) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return alog.Close(ctx)
}

// apiFiles are the reuse API's credentials: the configured files, or in
// development mode the development credentials generated once under the
// keys folder (client CA, demo-agency client certificate and JWT key, a
// loopback server certificate and clients.json).
type apiFiles struct{ Clients, ServerCert, ServerKey, ClientCA string }

func (c *config) apiFiles() (apiFiles, error) {
	f := apiFiles{Clients: c.API.Clients, ServerCert: c.API.Cert, ServerKey: c.API.Key, ClientCA: c.API.ClientCA}
	if !c.Dev || f.Clients != "" && f.ServerCert != "" && f.ServerKey != "" {
		return f, nil
	}
	dev, err := api.EnsureDevClients(c.keysDir(), c.AgencyCode)
	if err != nil {
		return f, fmt.Errorf("development API credentials: %w", err)
	}
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&f.Clients, dev.ClientsJSON)
	set(&f.ServerCert, dev.ServerCert)
	set(&f.ServerKey, dev.ServerKey)
	set(&f.ClientCA, dev.ClientCA)
	return f, nil
}

// reuseProcedures reads SOHOA_REUSE_PROCEDURES: per procedure, the
// document types its dossier requires and the pre-fill fields its form
// needs. Unset, none are configured, except in development mode, which
// uses the example table over the corpus document types. Every required
// document type must be a result type of the layouts.
func (c *config) reuseProcedures(vocab *reuse.Vocabulary, layouts *ocr.Layouts) (*reuse.Procedures, error) {
	var (
		ps  *reuse.Procedures
		err error
	)
	switch {
	case c.API.ReuseProcedures != "":
		b, rerr := os.ReadFile(c.API.ReuseProcedures)
		if rerr != nil {
			return nil, fmt.Errorf("SOHOA_REUSE_PROCEDURES: %w", rerr)
		}
		ps, err = reuse.ParseProcedures(b, vocab)
	case c.Dev:
		ps, err = reuse.DevProcedures(vocab)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("SOHOA_REUSE_PROCEDURES: %w", err)
	}
	for _, dt := range ps.DocTypes() {
		if l, ok := layouts.Layout(dt); !ok || l.Application {
			return nil, fmt.Errorf("SOHOA_REUSE_PROCEDURES: %q is not a result document type of the layouts", dt)
		}
	}
	return ps, nil
}

// docTypeNames names every document type of the layouts.
func docTypeNames(layouts *ocr.Layouts) map[string]string {
	names := map[string]string{}
	for _, t := range layouts.Types() {
		if l, ok := layouts.Layout(t); ok {
			names[t] = l.Name
		}
	}
	return names
}

// newAPIServer is the reuse API listener; its requests are audited in alog.
func newAPIServer(cfg *config, rt *pipelineRuntime, alog *audit.Log, m *metrics, log *slog.Logger) (*http.Server, error) {
	ac, err := cfg.apiFiles()
	if err != nil {
		return nil, err
	}
	clients, err := api.LoadClients(ac.Clients)
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
	auditKey, err := cfg.auditKey()
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	qrKey, err := cfg.qrKey()
	if err != nil {
		return nil, fmt.Errorf("QR key: %w", err)
	}
	trust, err := cfg.trustCerts()
	if err != nil {
		return nil, err
	}
	// Uploaded PDFs are verified in `sohoa verify-child` processes: a file
	// that crashes or exhausts the verifier kills one child, not serve.
	verifier, err := signing.NewChildVerifier(signing.ChildOptions{Roots: trust, Now: cfg.now,
		MemoryLimit: cfg.VerifyChild.MemLimit, Timeout: cfg.VerifyChild.Timeout, Logger: log})
	if err != nil {
		return nil, err
	}
	vocab, err := reuse.DefaultVocabulary()
	if err != nil {
		return nil, err
	}
	procs, err := cfg.reuseProcedures(vocab, rt.layouts)
	if err != nil {
		return nil, err
	}
	opts := api.Options{
		Repo: rt.repo, Clients: clients, ClientCAs: clientCAs, Audit: alog,
		AuditKey: auditKey, QRKey: qrKey, Logger: log, Now: cfg.now,
		VerifyPDF: verifier.Verify, Observer: m,
		Vocabulary: vocab, Procedures: procs, DocTypeNames: docTypeNames(rt.layouts),
		Agency: storage.Agency{Code: cfg.AgencyCode, Name: cfg.AgencyName},
	}
	// Files signed by another agency that SOHOA_TRUSTED_CAS trusts verify
	// too, reported with that anchor.
	fv, err := foreignVerifier(cfg, log)
	if err != nil {
		return nil, err
	}
	if fv != nil {
		opts.VerifyAgencyPDF = fv.Verify
	}
	h, err := api.New(opts)
	if err != nil {
		return nil, err
	}
	srv := api.NewServer(cfg.API.Addr, h, tlsConf)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	return srv, nil
}
