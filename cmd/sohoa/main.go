// Command sohoa digitises paper dossiers into signed, reusable e-results.
//
// One binary, many subcommands. Each subcommand parses its flags (with SOHOA_*
// environment defaults) into its own config, builds its dependencies, and runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run parses args itself.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the HTTP server: upload page, intake API, reuse API", runServe},
		"worker":    {"run the asynq worker: OCR, extraction, issuing", runWorker},
		"backfill":  {"enqueue a whole archive from a folder or S3 prefix, resumably", runBackfill},
		"extract":   {"OCR one scan file and print its fields (--json)", runExtract},
		"eval":      {"measure extraction accuracy on a corpus with .truth.json files", runEval},
		"issue":     {"make a signed e-result from one scan, offline", runIssue},
		"verify":    {"strictly verify a signed e-result PDF", runVerify},
		"get":       {"list and download a citizen's e-results", runGet},
		"result":    {"change a result's validity: revoke, suspend, supersede", runResult},
		"review":    {"list, show, approve or reject documents waiting for a person", runReview},
		"index":     {"maintain the citizen index: rebuild", runIndex},
		"audit":     {"verify the audit chain, query who read a citizen's results", runAudit},
		"token":     {"print a short-lived JWT for the development client system", runToken},
		"demo":      {"run the whole pipeline on a corpus and print a summary", runDemo},
		"ocr-child": {"internal: the supervised OCR child process", runOCRChild},
	}
}

// exitError carries a specific process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sohoa: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(stderr, "sohoa %s: %v\n", args[0], ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "sohoa %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: sohoa <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if n != "ocr-child" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
}

// envOr returns the environment variable's value, or def when it is unset.
func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
