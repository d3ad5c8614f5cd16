// Command sohoa digitises paper dossiers into signed, reusable e-results.
//
// One binary, many subcommands. main reads the environment once
// (processEnv); each subcommand gets a flag set holding the settings it uses
// (config.go), parses its arguments into a *config, builds its
// dependencies, and runs.
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
	"strings"
	"syscall"
)

// command is one subcommand: the settings it reads and its entry point,
// which parses args with fs.
type command struct {
	summary  string
	synopsis string // after "sohoa NAME"
	groups   group
	run      func(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error
}

const (
	groupsPipeline = gRedis | gStore | gAgency
	groupsIssuing  = gAgency | gSign | gTrust | gQR
	groupsWorker   = groupsPipeline | groupsIssuing | gWorker | gOCR | gProcedures | gKho | gForeign
)

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the HTTP servers: staff web app and intake API, reuse API", "[flags]", groupsPipeline | gProcedures | gTrust | gQR | gAudit | gIntake | gStaff | gWeb | gAPI | gOps | gKho | gForeign, runServe},
		"worker":    {"run the asynq worker: OCR, extraction, issuing", "[flags]", groupsWorker | gWorkerOps, runWorker},
		"backfill":  {"enqueue a whole archive from a folder or S3 prefix, resumably", "--dir DIR | --s3-bucket B [--s3-prefix P] [flags]", groupsPipeline | gBackfill, runBackfill},
		"extract":   {"OCR one scan file and print its fields (--json)", "[--json] [--words] FILE", gOCR, runExtract},
		"eval":      {"measure extraction accuracy on a corpus with .truth.json files", "--corpus DIR [--json]", gOCR, runEval},
		"issue":     {"make a signed e-result from one scan, offline", "--out OUT.pdf [flags] SCAN", groupsIssuing | gOCR, runIssue},
		"verify":    {"strictly verify a signed e-result PDF", "[--require-timestamp] FILE", gTrust, runVerify},
		"get":       {"list and download a citizen's e-results", "--citizen-id ID|- [--download DIR] | --code C --out FILE", gStore, runGet},
		"result":    {"change a result's validity: revoke, suspend, supersede", "revoke|suspend|reinstate|supersede|show [flags]", gStore | gAgency, runResult},
		"reconcile": {"re-dispatch whatever inputs not yet final need and Redis does not hold (after Redis lost its data or a long outage)", "[--dry-run] [--json]", groupsPipeline | gWorker, runReconcile},
		"review":    {"list, show, approve or reject documents waiting for a person", "list|show|approve|reject [flags]", groupsPipeline | gProcedures, runReview},
		"index":     {"maintain the citizen index: rebuild, lint", "rebuild|lint", gStore, runIndex},
		"audit":     {"verify the audit chain, query who read a citizen's results", "verify|query [flags]", gAudit, runAudit},
		"token":     {"print a short-lived JWT for the development client system", "(development mode only)", gAgency, runToken},
		"keys":      {"create production key files: index, seal, audit, QR and staff keys", "init DIR", 0, runKeys},
		"user":      {"manage staff accounts: add, reset, disable, enable, role, list", "add|reset|disable|enable|role|list [flags] [USER]", gStore | gStaff | gRedis | gAudit, runUser},
		"demo":      {"run the whole pipeline on a corpus and print a summary", "[--corpus DIR]", groupsWorker, runDemo},
		"bench":     {"measure the pipeline beside raw Tesseract, sohoa extract and OCRmyPDF (make bench)", "[--corpus DIRS] [--rounds N] [--out DIR]", gRedis | gIntake, runBench},
		"ocr-child": {"internal: the supervised OCR child process", "", gOCR, runOCRChild},
		// Reads no setting: the parent sends everything with the PDF.
		"verify-child": {"internal: the supervised verifier child process", "", 0, runVerifyChild},
	}
}

// internalCommand reports whether name is a child process's command, which
// help does not list.
func internalCommand(name string) bool { return strings.HasSuffix(name, "-child") }

// exitError carries a specific process exit code. printed says the message
// (and usage) has already been written.
type exitError struct {
	code    int
	err     error
	printed bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := processEnv()
	routeLibraryLogs(newLogger(os.Stderr, env["SOHOA_LOG_LEVEL"]))
	code := run(ctx, os.Args[1:], env, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code: 0 done,
// 1 failed, 2 usage or configuration error, others as the command says.
func run(ctx context.Context, args []string, env environ, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				newFlagSet(args[1], c.synopsis, env, stderr, c.groups).Usage()
				return 0
			}
		}
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
	fs := newFlagSet(args[0], cmd.synopsis, env, stderr, cmd.groups)
	err := cmd.run(ctx, fs, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.printed && ee.Error() != "" {
			fmt.Fprintf(stderr, "sohoa %s: %v\n", args[0], ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "sohoa %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: sohoa <command> [flags]     sohoa help <command>     sohoa <command> -h\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if !internalCommand(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	writeSettingsHelp(w)
}
