package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hibiken/asynq"
)

// runReconcile is `sohoa reconcile [--dry-run] [--json]`: one full pass of
// the reconciler the workers run, for an operator after Redis lost its data
// or a long outage. It prints every task it re-dispatched (or, dry, would).
func runReconcile(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	dry := fs.Bool("dry-run", false, "say what would be re-dispatched; change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageErr("unexpected argument %q", fs.Arg(0))
	}
	log := cfg.logger(stderr)
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	insp := asynq.NewInspector(cfg.redisOpt())
	defer insp.Close()
	rec := newReconciler(cfg, rt, insp, log)
	rec.DryRun = *dry
	rep, err := rec.Pass(ctx)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
		return err
	}
	verb := map[string]string{"enqueued": "enqueued", "unblocked": "unblocked and enqueued", "revived": "revived (new round)",
		"quarantined": "quarantined (retries exhausted)", "waiting": "archived, next round later"}
	for _, a := range rep.Actions {
		v := verb[a.Did]
		if *dry && a.Did != "waiting" {
			v = "would be " + v
		}
		line := fmt.Sprintf("%s %s: %s", a.InputKey, a.Task, v)
		if a.Round > 0 {
			line += fmt.Sprintf(" (round %d)", a.Round)
		}
		fmt.Fprintln(stdout, line)
	}
	what := "dispatched"
	if *dry {
		what = "would dispatch"
	}
	fmt.Fprintf(stdout, "reconcile: %d inputs looked at, %d final, %d open; %s %d tasks\n", rep.Looked, rep.Final, rep.Open, what, rep.Dispatched())
	return err
}
