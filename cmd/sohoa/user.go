package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"sohoa/audit"
	"sohoa/storage"
	"sohoa/web"
)

const userUsage = `usage: sohoa user <action> [flags] USER

actions:
  add      --role counter|reviewer|supervisor --office CODE [--name "Họ và tên"] [--password-stdin] USER
  reset    [--password-stdin] USER   set a new password
  disable  USER                       refuse its sign-ins and end its sessions in every serve
  enable   USER                       let a disabled account sign in again
  role     --role ROLE [--office CODE] USER
  list                                every account: user, role, office, state, last change

A new password is generated and printed once, or, with --password-stdin, read
from the first line of standard input (never a flag: flags show in process
lists). Every change is an append-only event of the account in the bucket and
ends the account's sessions.`

// runUser: sohoa user add|reset|disable|enable|role|list.
func runUser(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	return runUserCmd(ctx, fs, args, os.Stdin, stdout)
}

func runUserCmd(ctx context.Context, fs *flagSet, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(fs.Output(), userUsage)
		if len(args) == 0 {
			return &exitError{code: 2, err: errors.New("")}
		}
		return flag.ErrHelp
	}
	action := args[0]
	switch action {
	case "add", "reset", "disable", "enable", "role", "list":
	default:
		return fs.usageErr("unknown action %q (want add, reset, disable, enable, role or list)", action)
	}
	role := fs.String("role", "", "counter, reviewer or supervisor (add, role)")
	office := fs.String("office", "", "office (agency) code of the account, e.g. 000.00.31.H29 (add; role: default unchanged)")
	name := fs.String("name", "", "full name shown to staff (add)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (add, reset)")
	cfg, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	if action == "add" || action == "role" {
		if !web.Role(*role).Valid() {
			return fs.usageErr("%s needs --role counter, reviewer or supervisor", action)
		}
	}
	if action == "add" && *office == "" {
		return fs.usageErr("add needs --office, the office's agency code (e.g. 000.00.31.H29)")
	}
	var user string
	switch {
	case action == "list" && fs.NArg() == 0:
	case action != "list" && fs.NArg() == 1:
		user = fs.Arg(0)
	case action == "list":
		return fs.usageErr("list takes no USER")
	default:
		return fs.usageErr("%s wants exactly one USER, after the flags", action)
	}

	repo, err := openRepository(ctx, cfg, cfg.logger(io.Discard))
	if err != nil {
		return err
	}
	rdb, err := cfg.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	accts, err := newStaffAccounts(cfg, repo, web.NewRedisStore(rdb, ""))
	if err != nil {
		return err
	}
	// Every change, and every listing, is one record of the audit chain,
	// as the web app's sign-ins and actions are: opened before anything is
	// done, so an audit log that cannot be written refuses the command.
	alog, err := openAuditLog(ctx, cfg, &pipelineRuntime{repo: repo}, cfg.logger(io.Discard))
	if err != nil {
		return err
	}
	var auditErr error
	defer func() {
		if err := closeAuditLog(alog); err != nil && auditErr == nil {
			fmt.Fprintf(stdout, "warning: the audit record of this change is kept in the write-ahead log and stored by the next serve: %v\n", err)
		}
	}()
	record := func(acct web.Account, err error) error {
		rec := audit.Record{Time: cfg.now(), RequestID: newCLIRequestID(), ClientID: "cli", AuthMethod: "cli", Method: "CLI",
			Endpoint: "sohoa user " + action, Staff: acct.ID, StaffRole: string(acct.Role), Office: acct.Office, Target: acct.ID,
			Decision: audit.Allow, Rule: "user_" + action}
		if err != nil {
			rec.Decision, rec.Rule = audit.Deny, "user_"+action+"_refused"
		}
		if _, auditErr = alog.Append(ctx, rec); auditErr != nil {
			return fmt.Errorf("audit the change: %w", auditErr)
		}
		return nil
	}
	password := func() (pw string, generated bool, err error) {
		if !*fromStdin {
			pw, err = web.GeneratePassword()
			return pw, true, err
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, web.MaxPasswordBytes+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if err := web.CheckPasswordPolicy(pw); err != nil {
			return "", false, &exitError{code: 2, err: err}
		}
		return pw, false, nil
	}
	printPassword := func(pw string, generated bool) {
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once: give it to the person in private; it is stored only as an argon2id hash)\n", pw)
		}
	}
	const by = "cli"
	var acct web.Account
	switch action {
	case "add":
		pw, generated, err := password()
		if err != nil {
			return err
		}
		acct, err = accts.Create(ctx, user, *name, web.Role(*role), *office, pw, by)
		if aerr := record(acct, err); aerr != nil {
			return errors.Join(userErr(err), aerr)
		}
		if err != nil {
			return userErr(err)
		}
		fmt.Fprintf(stdout, "created %s (%s, office %s)\n", acct.User, acct.Role, acct.Office)
		printPassword(pw, generated)
		return nil
	case "reset":
		pw, generated, err := password()
		if err != nil {
			return err
		}
		acct, err = accts.ResetPassword(ctx, user, pw, by)
		if aerr := record(acct, err); aerr != nil {
			return errors.Join(err, aerr)
		}
		if acct.ID != "" {
			fmt.Fprintf(stdout, "new password set for %s\n", acct.User)
			printPassword(pw, generated)
		}
		return changed(acct, err, stdout)
	case "disable":
		acct, err = accts.Disable(ctx, user, by)
		if aerr := record(acct, err); aerr != nil {
			return errors.Join(err, aerr)
		}
		if acct.ID != "" {
			fmt.Fprintf(stdout, "%s is disabled\n", acct.User)
		}
		return changed(acct, err, stdout)
	case "enable":
		acct, err = accts.Enable(ctx, user, by)
		if aerr := record(acct, err); aerr != nil {
			return errors.Join(err, aerr)
		}
		if acct.ID != "" {
			fmt.Fprintf(stdout, "%s is enabled\n", acct.User)
		}
		return userErr(err)
	case "role":
		acct, err = accts.SetRole(ctx, user, web.Role(*role), *office, by)
		if aerr := record(acct, err); aerr != nil {
			return errors.Join(err, aerr)
		}
		if acct.ID != "" {
			fmt.Fprintf(stdout, "%s is %s, office %s\n", acct.User, acct.Role, acct.Office)
		}
		return changed(acct, err, stdout)
	}
	list, err := accts.List(ctx)
	if aerr := record(web.Account{}, err); aerr != nil {
		return errors.Join(err, aerr)
	}
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tROLE\tOFFICE\tSTATE\tNAME\tCREATED\tLAST CHANGE")
	for _, a := range list {
		state := "active"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.User, a.Role, a.Office, state, orDash(a.Name),
			a.Created.In(storage.Vietnam()).Format(time.DateTime), a.Changed.In(storage.Vietnam()).Format(time.DateTime))
	}
	return tw.Flush()
}

// changed reports whether the change ended the account's sessions at once.
// A change that was stored but whose sessions could not be ended (Redis
// down) exits 1: they end within a minute, at their next account check.
func changed(acct web.Account, err error, stdout io.Writer) error {
	if acct.ID == "" {
		return userErr(err)
	}
	if err != nil {
		return fmt.Errorf("%s changed: %w", acct.User, err)
	}
	fmt.Fprintf(stdout, "its sessions are ended in every serve\n")
	return nil
}

// userErr makes a refused change an exit-2 error with its reason.
func userErr(err error) error {
	for _, e := range []error{web.ErrNoAccount, web.ErrAccountExists, web.ErrBadUserName, web.ErrBadOffice, web.ErrBadRole, web.ErrWeakPassword} {
		if errors.Is(err, e) {
			return &exitError{code: 2, err: err}
		}
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newCLIRequestID() string {
	b := make([]byte, 12)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
