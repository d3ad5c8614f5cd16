package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/pipeline"
	"sohoa/signing"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// TestDemoCorpus runs `sohoa demo` on the whole dev corpus against the real
// stack and checks what it filed: every e-result's signature is valid and
// trusted for poppler's pdfsig, qpdf finds no error, pdftotext recovers the
// OCR text; no object key in the bucket holds a 12-digit number or a holder
// name; the demo's output and log show no citizen ID.
func TestDemoCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	requireStack(t)
	tools := map[string]string{}
	for _, tool := range []string{"pdfsig", "qpdf", "pdftotext", "certutil"} {
		tools[tool] = testenv.MustHaveExecPath(t, tool)
	}
	local := isolate(t, 3)
	corpus := "../../../shared/corpus/dev"
	if _, err := os.Stat(corpus); err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	var out, logs testenv.Buffer
	if rc := runCmd(context.Background(), []string{"demo", "--corpus", corpus}, &out, &logs); rc != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nlog:\n%s", rc, out.String(), logs.String())
	}
	t.Logf("demo summary:\n%s", out.String())

	ctx := context.Background()
	repo, err := openRepository(ctx, envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Everything a holder could be identified by: IDs and names from the
	// records the demo wrote (the corpus truth is not needed for that).
	var ids, names []string
	var manifests []string
	err = repo.Bucket().List(ctx, "", func(oi storage.ObjectInfo) error {
		if storage.IsManifestKey(oi.Key) {
			manifests = append(manifests, oi.Key)
		}
		if strings.HasPrefix(oi.Key, "records/") {
			var rec pipeline.Record
			if err := repo.GetSealedJSON(ctx, oi.Key, &rec); err != nil {
				return err
			}
			for _, d := range rec.Result.Documents {
				for slug, f := range d.Fields {
					switch {
					case strings.HasSuffix(slug, "personal_id") && len(f.Value) == 12:
						ids = append(ids, f.Value)
					case slug == "full_name" && f.Value != "":
						names = append(names, f.Value)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(manifests) < 15 {
		t.Fatalf("demo filed %d e-results from 32 scans, want at least 15:\n%s", len(manifests), out.String())
	}
	if len(ids) < 30 || len(names) < 30 {
		t.Fatalf("records name %d IDs and %d names, want at least 30 each", len(ids), len(names))
	}

	db := t.TempDir()
	ca := filepath.Join(local, "keys", "signing", signing.DevCAFile)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "sohoa-dev-ca", "-t", "CT,C,C", "-i", ca},
	} {
		if o, err := exec.Command(tools["certutil"], args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, o)
		}
	}
	dir := t.TempDir()
	for _, mk := range manifests {
		var m storage.Manifest
		if err := repo.GetJSON(ctx, mk, &m); err != nil {
			t.Fatal(err)
		}
		pdf := openPDF(t, repo, m.ResultCode)
		f := filepath.Join(dir, m.ID+".pdf")
		if err := os.WriteFile(f, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		o, _ := exec.Command(tools["pdfsig"], "-nssdir", "sql:"+db, f).CombinedOutput()
		for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
			if !bytes.Contains(o, []byte(want)) {
				t.Errorf("%s: pdfsig lacks %q:\n%s", m.ResultCode, want, o)
			}
		}
		if o, err := exec.Command(tools["qpdf"], "--check", f).CombinedOutput(); err != nil {
			t.Errorf("%s: qpdf --check: %v\n%s", m.ResultCode, err, o)
		}
		txt, err := exec.Command(tools["pdftotext"], "-enc", "UTF-8", f, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		var rec pipeline.Record
		if err := repo.GetSealedJSON(ctx, storage.RecordKey(m.InputKey), &rec); err != nil {
			t.Fatal(err)
		}
		if got, want := recoveredShare(string(txt), rec, m.DocType), 0.9; got < want {
			t.Errorf("%s: pdftotext recovers %.0f%% of the OCR words, want ≥ %.0f%%", m.ResultCode, 100*got, 100*want)
		}
	}

	// Every key has the layout of storage/keys.go (prefixes, hashes, UUIDs),
	// and no key, output or log line names a holder's ID or name outside a hash.
	nkeys := storagetest.CheckKeys(t, repo.Bucket(), ids, names)
	storagetest.CheckLog(t, out.String(), ids, names)
	storagetest.CheckLog(t, logs.String(), ids, names)
	t.Logf("%d e-results checked with pdfsig, qpdf and pdftotext; %d keys, %d IDs and %d names checked", len(manifests), nkeys, len(ids), len(names))

	// The review queue holds what was not filed; a reviewer sees and decides.
	pending, err := pipeline.PendingReviews(ctx, repo)
	if err != nil || len(pending) < 4 {
		t.Fatalf("review queue = %d entries, %v; want at least the 4 expected validation errors", len(pending), err)
	}
	var rout bytes.Buffer
	if rc := runCmd(ctx, []string{"review", "list"}, &rout, &rout); rc != 0 || !strings.Contains(rout.String(), pending[0].InputKey) {
		t.Fatalf("review list: exit %d\n%s", rc, rout.String())
	}
	pagesDir := t.TempDir()
	e := pending[0]
	rout.Reset()
	if rc := runCmd(ctx, []string{"review", "show", "--input", e.InputKey, "--doc", fmt.Sprint(e.Doc), "--pages", pagesDir}, &rout, &rout); rc != 0 {
		t.Fatalf("review show: exit %d\n%s", rc, rout.String())
	}
	if imgs, _ := filepath.Glob(filepath.Join(pagesDir, "page-*")); len(imgs) == 0 || !strings.Contains(rout.String(), "holder_personal_id") {
		t.Fatalf("review show wrote %v:\n%s", imgs, rout.String())
	}
	rout.Reset()
	if rc := runCmd(ctx, []string{"review", "reject", "--input", e.InputKey, "--doc", fmt.Sprint(e.Doc), "--by", "cb01", "--reason", "printed ID contradicts the holder"}, &rout, &rout); rc != 0 {
		t.Fatalf("review reject: exit %d\n%s", rc, rout.String())
	}
	if after, _ := pipeline.PendingReviews(ctx, repo); len(after) != len(pending)-1 {
		t.Errorf("review queue after a rejection = %d, want %d", len(after), len(pending)-1)
	}
}

// recoveredShare is the share of the OCR words (4+ letters) of the result's
// pages that pdftotext finds in the e-result.
func recoveredShare(text string, rec pipeline.Record, docType string) float64 {
	pages := map[int]bool{}
	for _, d := range rec.Result.Documents {
		if d.DocType == docType {
			for _, p := range d.Pages {
				pages[p] = true
			}
		}
	}
	found, total := 0, 0
	for _, pg := range rec.Result.Pages {
		if !pages[pg.Number] {
			continue
		}
		for _, w := range pg.Words {
			if len([]rune(w.Text)) < 4 {
				continue
			}
			total++
			if strings.Contains(text, w.Text) {
				found++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(found) / float64(total)
}
