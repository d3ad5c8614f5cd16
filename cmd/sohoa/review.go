package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/storage"
)

// multiFlag collects repeated --set slug=value flags.
type multiFlag map[string]string

func (m multiFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m multiFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want slug=value, got %q", s)
	}
	m[k] = v
	return nil
}

// runReview is the reviewer's tool for documents the pipeline would not
// file on its own: list the queue, show a document with its page images,
// approve it (with corrections) for issuing, or reject it.
func runReview(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New("usage: sohoa review list | show --input KEY [--doc N] [--pages DIR] | approve --input KEY --doc N --by ID [--set slug=value]… [--override code,…] | reject --input KEY --doc N --by ID --reason TEXT")}
	}
	verb := args[0]
	input := fs.String("input", "", "input key of the scan")
	doc := fs.Int("doc", 0, "document index within the scan")
	by := fs.String("by", "", "reviewer ID (recorded as verified_by)")
	reason := fs.String("reason", "", "why the document is rejected, or a note")
	pages := fs.String("pages", "", "with show: write the document's page images to this folder")
	override := fs.String("override", "", "comma-separated validation codes the reviewer accepts as printed on the original")
	set := multiFlag{}
	fs.Var(set, "set", "correct a field: slug=value (repeatable; holder_personal_id, procedure_code, valid_until too)")
	cfg, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	rt, err := newPipelineRuntime(ctx, cfg, log, false, 0, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	switch verb {
	case "list":
		pending, err := pipeline.PendingReviews(ctx, rt.repo)
		if err != nil {
			return err
		}
		layouts, err := ocr.DefaultLayouts()
		if err != nil {
			return err
		}
		texts := pipeline.StaffTexts()
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INPUT KEY\tDOC\tTYPE\tFILE\tREASONS")
		for _, e := range pending {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.40s\t%s\n", e.InputKey, e.Doc, e.DocType, e.File, reasonTexts(texts, layouts, e.DocType, e.Reasons))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d document(s) waiting for review\n", len(pending))
		return nil
	case "show":
		return showForReview(ctx, rt.repo, *input, *doc, *pages, stdout)
	case "approve", "reject":
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown review command %q", verb)}
	}
	if *input == "" {
		return &exitError{code: 2, err: errors.New("--input is required")}
	}
	pipe, err := newReviewPipeline(cfg, rt)
	if err != nil {
		return err
	}
	a := pipeline.Approval{InputKey: *input, Doc: *doc, Approved: verb == "approve", Fields: set, By: *by, Reason: *reason}
	if *override != "" {
		a.Override = strings.Split(*override, ",")
	}
	if err := pipe.Decide(ctx, a); err != nil {
		var ve *pipeline.ValidationError
		if errors.As(err, &ve) {
			// Each refused value, in the words of the review page.
			texts := pipeline.StaffTexts()
			for _, f := range ve.Fields {
				fmt.Fprintf(stderr, "%s: %s\n", f.Field, pipeline.ReasonText(texts, f.Code, nil))
			}
			return &exitError{code: 1, err: err}
		}
		return err
	}
	if a.Approved {
		fmt.Fprintf(stdout, "document %d of %s approved by %s; queued for issuing\n", *doc, *input, *by)
	} else {
		fmt.Fprintf(stdout, "document %d of %s rejected by %s\n", *doc, *input, *by)
	}
	return nil
}

// newReviewPipeline is a pipeline with layouts and procedures but no OCR
// or signer: enough to validate and record decisions and queue the issue.
func newReviewPipeline(cfg *config, rt *pipelineRuntime) (*pipeline.Pipeline, error) {
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		return nil, err
	}
	procs, err := loadProcedures(cfg, layouts)
	if err != nil {
		return nil, err
	}
	return pipeline.New(pipeline.Options{
		Repo: rt.repo, Queue: rt.queue, Layouts: layouts, Procedures: procs,
		AgencyCode: cfg.AgencyCode, AgencyName: cfg.AgencyName, Logger: rt.log, Now: cfg.now,
	})
}

func showForReview(ctx context.Context, repo *storage.Repository, input string, doc int, pagesDir string, stdout io.Writer) error {
	if input == "" {
		return &exitError{code: 2, err: errors.New("--input is required")}
	}
	var rec pipeline.Record
	if err := repo.GetSealedJSON(ctx, storage.RecordKey(input), &rec); err != nil {
		return fmt.Errorf("read record of %s: %w", input, err)
	}
	if doc < 0 || doc >= len(rec.Result.Documents) {
		return &exitError{code: 2, err: fmt.Errorf("document %d not in this scan (%d documents)", doc, len(rec.Result.Documents))}
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		return err
	}
	texts := pipeline.StaffTexts()
	d := rec.Result.Documents[doc]
	fmt.Fprintf(stdout, "file %s, document %d: %s, pages %v, dossier %s\n", rec.File, doc, d.DocType, d.Pages, rec.Intake.DossierCode)
	if doc < len(rec.Decisions) {
		fmt.Fprintf(stdout, "decision: %s\n", rec.Decisions[doc].Action)
		for _, r := range rec.Decisions[doc].Reasons {
			fmt.Fprintf(stdout, "  - %s [%s]\n", pipeline.ReasonText(texts, r, fieldLabeler(layouts, d.DocType)), r)
		}
	}
	slugs := make([]string, 0, len(d.Fields))
	for k := range d.Fields {
		slugs = append(slugs, k)
	}
	sort.Strings(slugs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tCONFIDENCE\tVALUE")
	for _, k := range slugs {
		f := d.Fields[k]
		fmt.Fprintf(tw, "%s\t%.2f\t%s\n", k, f.Confidence, f.Value)
		if len(f.Reads) > 1 {
			// The reads disagree: every reading, the page read first.
			for i, r := range f.Reads {
				what := "second read"
				if i == 0 {
					what = "page read"
				}
				fmt.Fprintf(tw, "\t\t  %s: %s\n", what, r)
			}
		}
	}
	if l, ok := layouts.Layout(d.DocType); ok {
		for _, f := range l.Fields {
			if _, read := d.Fields[f.Slug]; !read && f.Required {
				fmt.Fprintf(tw, "%s\t\t(missing, required: --set %s=…)\n", f.Slug, f.Slug)
			}
		}
	}
	vu := "none"
	if d.ValidUntil != nil {
		vu = *d.ValidUntil
	}
	fmt.Fprintf(tw, "%s\t\t%s\n%s\t\t%s\n", pipeline.FieldHolderID, d.HolderPersonalID, pipeline.FieldValidUntil, vu)
	if err := tw.Flush(); err != nil {
		return err
	}
	if pagesDir == "" {
		return nil
	}
	if err := os.MkdirAll(pagesDir, 0o700); err != nil {
		return err
	}
	for _, ref := range rec.Images {
		if !slices.Contains(d.Pages, ref.Page) {
			continue
		}
		data, err := repo.Page(ctx, ref.Key)
		if err != nil {
			return fmt.Errorf("page %d: %w", ref.Page, err)
		}
		p := filepath.Join(pagesDir, fmt.Sprintf("page-%d%s", ref.Page, filepath.Ext(ref.Key)))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}

// fieldLabeler names a field of docType by its printed label.
func fieldLabeler(layouts *ocr.Layouts, docType string) func(string) string {
	return func(slug string) string {
		if l, ok := layouts.Layout(docType); ok {
			if f, ok := l.Field(slug); ok && len(f.Labels) > 0 {
				return f.Labels[0]
			}
		}
		return slug
	}
}

// reasonTexts is the Vietnamese text of each reason, joined.
func reasonTexts(texts map[string]string, layouts *ocr.Layouts, docType string, reasons []string) string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = pipeline.ReasonText(texts, r, fieldLabeler(layouts, docType))
	}
	return strings.Join(out, "; ")
}
