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
}

const resultUsage = `usage: sohoa result <action> [flags]

actions:
  revoke     --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  suspend    --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  reinstate  --code C --decision D [--reason R] [--by WHO] [--at RFC3339]
  supersede  --code OLD --new-code NEW [--by WHO]
  show       --code C [--at RFC3339]   print validity and events as JSON`

func parseResultArgs(args []string, stderr io.Writer) (resultConfig, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, resultUsage)
		if len(args) == 0 {
			return resultConfig{}, &exitError{2, errors.New("")}
		}
		return resultConfig{}, flag.ErrHelp
	}
	cfg := resultConfig{Action: args[0]}
	fs := flag.NewFlagSet("result "+cfg.Action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Code, "code", "", "result code {dossier}-KQ{n}")
	fs.StringVar(&cfg.NewCode, "new-code", "", "superseding result code (supersede)")
	fs.StringVar(&cfg.Decision, "decision", "", "decision reference (số quyết định)")
	fs.StringVar(&cfg.Reason, "reason", "", "reason code")
	fs.StringVar(&cfg.By, "by", envOr("USER", ""), "actor recorded in the event")
	at := fs.String("at", "", "when the change takes effect (RFC 3339); default now")
	if err := fs.Parse(args[1:]); err != nil {
		return resultConfig{}, err
	}
	if fs.NArg() > 0 {
		return resultConfig{}, &exitError{2, fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return resultConfig{}, &exitError{2, fmt.Errorf("--at: %w", err)}
		}
		cfg.At = t
	}
	switch cfg.Action {
	case "revoke", "suspend", "reinstate":
		if cfg.Code == "" || cfg.Decision == "" {
			return resultConfig{}, &exitError{2, fmt.Errorf("%s needs --code and --decision", cfg.Action)}
		}
	case "supersede":
		if cfg.Code == "" || cfg.NewCode == "" {
			return resultConfig{}, &exitError{2, errors.New("supersede needs --code and --new-code")}
		}
	case "show":
		if cfg.Code == "" {
			return resultConfig{}, &exitError{2, errors.New("show needs --code")}
		}
	default:
		fmt.Fprintln(stderr, resultUsage)
		return resultConfig{}, &exitError{2, fmt.Errorf("unknown action %q", cfg.Action)}
	}
	return cfg, nil
}

func runResult(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseResultArgs(args, stderr)
	if err != nil {
		return err
	}
	repo, err := openRepository(ctx)
	if err != nil {
		return err
	}
	return applyResult(ctx, repo, cfg, stdout)
}

// applyResult performs the action and prints the result's state as JSON.
func applyResult(ctx context.Context, s *storage.Repository, cfg resultConfig, stdout io.Writer) error {
	status := map[string]string{"revoke": storage.StatusRevoked, "suspend": storage.StatusSuspended, "reinstate": storage.StatusActive}
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
		at = time.Now()
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
// (bad input or a forbidden transition), 1 otherwise.
func resultExit(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &exitError{3, err}
	case errors.Is(err, storage.ErrInvalid):
		return &exitError{4, err}
	}
	return err
}
