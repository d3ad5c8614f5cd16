package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/web"
)

// newStaffAccounts opens the staff accounts of repo. sessions, when not
// nil, has each change to an account end the account's sessions at once.
func newStaffAccounts(cfg *config, repo *storage.Repository, sessions web.SessionEnder) (*web.Accounts, error) {
	key, err := cfg.staffKey()
	if err != nil {
		return nil, fmt.Errorf("staff key: %w", err)
	}
	return web.NewAccounts(web.AccountsOptions{Repo: repo, Key: key, Sessions: sessions, Now: cfg.now})
}

// devUsersFile holds the development sign-ins (development mode only).
func (c *config) devUsersFile() string { return filepath.Join(c.keysDir(), "dev-users.txt") }

// newWebApp wires the staff web app: accounts in the repository, sessions
// and failed sign-ins in Redis, the serve process's audit log. In
// development mode it first makes one development account per role.
func newWebApp(ctx context.Context, cfg *config, rt *pipelineRuntime, alog *audit.Log, rdb redis.UniversalClient, log *slog.Logger) (*web.App, error) {
	store := web.NewRedisStore(rdb, "")
	accts, err := newStaffAccounts(cfg, rt.repo, store)
	if err != nil {
		return nil, err
	}
	if cfg.Dev {
		// Without the session store: a first start must not need Redis.
		devAccts, err := newStaffAccounts(cfg, rt.repo, nil)
		if err != nil {
			return nil, err
		}
		users, err := web.EnsureDevUsers(ctx, devAccts, cfg.devUsersFile(), cfg.AgencyCode)
		if err != nil {
			return nil, err
		}
		log.Info("development sign-ins ready", "accounts", len(users), "file", cfg.devUsersFile())
	}
	sso, err := cfg.webOIDC()
	if err != nil {
		return nil, err
	}
	auditKey, err := cfg.auditKey()
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return web.New(web.Options{
		Accounts: accts, Sessions: store, Audit: alog, Logger: log, Now: cfg.now,
		PublicURL: cfg.Web.PublicURL, IdleTimeout: cfg.Web.SessionIdle, MaxLifetime: cfg.Web.SessionMax,
		MaxFailures: cfg.Web.MaxFailures, Lockout: cfg.Web.Lockout,
		MaxFileMB: rt.intake.MaxFileBytes >> 20, AgencyName: cfg.AgencyName, ReasonTexts: pipeline.StaffTexts(),
		AgencyCode: cfg.AgencyCode, Repo: rt.repo, Pipeline: rt.pipe, Intake: rt.intake, Procedures: rt.procedures,
		OIDC: sso, AuditKey: auditKey, KhoConfigured: cfg.Kho.URL != "",
	})
}
