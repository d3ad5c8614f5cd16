package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"sohoa/storage"
)

// resultConfig is the parsed `sohoa result <action>` command line.
type resultConfig struct {
	Action   string // revoke, suspend, reinstate, supersede, show
	Code     string
	NewCode  string
	Decision string
	Reason   string
	By       string
	At       time.Time
	Now      func() time.Time // the clock, for the validity shown after the action
	// Agency is the agency this installation acts for (SOHOA_AGENCY_CODE):
	// only its results may change validity, unless AnyAgency.
	Agency    string
	AnyAgency bool
}

const resultUsage = `usage: sohoa result <action> [flags]

actions:
  revoke     --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  suspend    --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  reinstate  --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  supersede  --code OLD --new-code NEW [--by WHO]
  show       --code C [--at RFC3339]   print validity and events as JSON

A change applies only to results of SOHOA_AGENCY_CODE (--any-agency: any
agency's, for a supervising body); --at must lie on or after the result's
issue and filing, at most a year ahead. Exit 3: no such result; 4: refused
(another agency's result, an implausible date, a forbidden or repeated change).`

func parseResultArgs(fs *flagSet, args []string) (resultConfig, *config, error) {
	stderr := fs.Output()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, resultUsage)
		if len(args) == 0 {
			return resultConfig{}, nil, &exitError{code: 2, err: errors.New("")}
		}
		return resultConfig{}, nil, flag.ErrHelp
	}
	cfg := resultConfig{Action: args[0]}
	fs.StringVar(&cfg.Code, "code", "", "result code {dossier}-KQ{n}")
	fs.StringVar(&cfg.NewCode, "new-code", "", "superseding result code (supersede)")
	fs.StringVar(&cfg.Decision, "decision", "", "decision reference (số quyết định)")
	fs.StringVar(&cfg.Reason, "reason", "", "reason code")
	fs.StringVar(&cfg.By, "by", "", "actor recorded in the event (required)")
	at := fs.String("at", "", "when the change takes effect (RFC 3339); default now")
	fs.BoolVar(&cfg.AnyAgency, "any-agency", false, "change results of any agency, not only SOHOA_AGENCY_CODE's (a supervising body)")
	conf, err := fs.parse(args[1:])
	if err != nil {
		return resultConfig{}, nil, err
	}
	cfg.Agency = conf.AgencyCode
	if fs.NArg() > 0 {
		return resultConfig{}, nil, fs.usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return resultConfig{}, nil, fs.usageErr("--at: %v", err)
		}
		cfg.At = t
	}
	switch cfg.Action {
	case "revoke", "suspend", "reinstate":
		if cfg.Code == "" || cfg.Decision == "" || cfg.By == "" {
			return resultConfig{}, nil, fs.usageErr("%s needs --code, --decision and --by", cfg.Action)
		}
	case "supersede":
		if cfg.Code == "" || cfg.NewCode == "" || cfg.By == "" {
			return resultConfig{}, nil, fs.usageErr("supersede needs --code, --new-code and --by")
		}
	case "show":
		if cfg.Code == "" {
			return resultConfig{}, nil, fs.usageErr("show needs --code")
		}
	default:
		fmt.Fprintln(stderr, resultUsage)
		return resultConfig{}, nil, &exitError{code: 2, err: fmt.Errorf("unknown action %q", cfg.Action)}
	}
	return cfg, conf, nil
}

func runResult(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	cfg, conf, err := parseResultArgs(fs, args)
	if err != nil {
		return err
	}
	repo, err := openRepository(ctx, conf, conf.logger(stderr))
	cfg.Now = conf.now
	if err != nil {
		return err
	}
	return applyResult(ctx, repo, cfg, stdout)
}

// applyResult performs the action and prints the result's state as JSON.
func applyResult(ctx context.Context, s *storage.Repository, cfg resultConfig, stdout io.Writer) error {
	status := map[string]string{"revoke": storage.StatusRevoked, "suspend": storage.StatusSuspended, "reinstate": storage.StatusActive}
	if cfg.Action != "show" {
		for _, code := range []string{cfg.Code, cfg.NewCode} {
			if code == "" {
				continue
			}
			m, err := s.Get(ctx, code)
			if err != nil {
				return resultExit(err)
			}
			if m.ConvertingAgency.Code != cfg.Agency && !cfg.AnyAgency {
				return &exitError{code: 4, err: fmt.Errorf("%s was issued by agency %s; this installation acts for %s (--any-agency for a supervising body)",
					m.ResultCode, m.ConvertingAgency.Code, cfg.Agency)}
			}
		}
	}
	switch cfg.Action {
	case "revoke", "suspend", "reinstate":
		e := storage.StatusEvent{At: cfg.At, Status: status[cfg.Action], ReasonCode: cfg.Reason, DecisionRef: cfg.Decision, Actor: cfg.By}
		if err := s.AppendStatus(ctx, cfg.Code, e); err != nil {
			return resultExit(err)
		}
	case "supersede":
		if err := s.Supersede(ctx, cfg.Code, cfg.NewCode, cfg.By); err != nil {
			return resultExit(err)
		}
	}
	at := cfg.At
	if at.IsZero() {
		at = cfg.Now()
	}
	v, err := s.Validity(ctx, cfg.Code, at)
	if err != nil {
		return resultExit(err)
	}
	evs, err := s.Events(ctx, cfg.Code)
	if err != nil {
		return resultExit(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		ResultCode string                `json:"result_code"`
		Validity   storage.Validity      `json:"validity"`
		Events     []storage.StatusEvent `json:"events"`
	}{cfg.Code, v, evs})
}

// resultExit maps repository errors to exit codes: 3 not found, 4 refused
// (bad input, an implausible date, a forbidden transition or a change
// already recorded), 1 otherwise.
func resultExit(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &exitError{code: 3, err: err}
	case errors.Is(err, storage.ErrInvalid), errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrExists):
		return &exitError{code: 4, err: err}
	}
	return err
}
