package main

import (
	"bytes"
	"mime/multipart"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sohoa/pipeline"
	"sohoa/storage"
)

// TestDossierCodesOnStack runs uploads with allocated, ahead-of-counter,
// clashing, foreign, malformed and future dossier codes through the real
// `sohoa serve` and `sohoa worker` (S3 create-once claims, real Tesseract):
// every file is refused at the door with its reason, or ends in exactly one
// final state (results, review or quarantine), none stays processing, and
// no two uploads share a dossier code.
func TestDossierCodesOnStack(t *testing.T) {
	stackTest(t, 9)
	base, workerLog := startIntakeAndWorker(t)

	const agency = "000.00.00.H00" // SOHOA_AGENCY_CODE's default
	now := envConfig(t).now()      // sohoa's clock: SOHOA_CLOCK_OFFSET may shift it
	code := func(day time.Time, seq int) string { return storage.FormatDossierCode(agency, day, seq) }
	corpus := "../../../shared/corpus/dev/"
	send := func(dossier string, perFile bool, scans ...string) (int, pipeline.BatchResponse) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("procedure_code", "1.000894")
		if dossier != "" {
			mw.WriteField("dossier_code", dossier)
		}
		if perFile {
			mw.WriteField("dossier_per_file", "1")
		}
		for _, s := range scans {
			data, err := os.ReadFile(filepath.Join(corpus, s))
			if err != nil {
				t.Fatalf("dev corpus missing beside the checkout: %v", err)
			}
			fw, _ := mw.CreateFormFile("files", s)
			fw.Write(data)
		}
		mw.Close()
		return postBatch(t, base, &body, mw.FormDataContentType())
	}

	type sent struct {
		dossier string
		scans   []string
		want    string // refusal reason, "" accepted
		perFile bool   // a dossier code per file, not one for the upload
	}
	ahead := code(now, 3)
	plan := []sent{
		{"", []string{"scan_0002.jpg"}, "", false},                              // 0001
		{ahead, []string{"scan_0005.png", "scan_0006.jpg"}, "", false},          // named ahead of the counter
		{"", []string{"scan_0010.jpg", "scan_0019.jpg"}, "", true},              // 0002 and 0004: 0003 is skipped
		{ahead, []string{"scan_0028.jpg"}, pipeline.RefusedDossierTaken, false}, // another upload, same dossier
		{code(now, 1), []string{"scan_0028.jpg"}, pipeline.RefusedDossierTaken, false},
		{"000.00.31.H29-" + now.In(storage.Vietnam()).Format("060102") + "-0009", []string{"scan_0028.jpg"}, pipeline.RefusedDossierAgency, false},
		{agency + "-" + now.In(storage.Vietnam()).Format("060102") + "-9", []string{"scan_0028.jpg"}, pipeline.RefusedDossierFormat, false},
		{code(now.AddDate(0, 0, 3), 1), []string{"scan_0028.jpg"}, pipeline.RefusedDossierDate, false},
	}
	var accepted []pipeline.Submission
	for _, p := range plan {
		status, br := send(p.dossier, p.perFile, p.scans...)
		if len(br.Files) != len(p.scans) {
			t.Fatalf("upload %+v: %d %+v", p, status, br)
		}
		for _, f := range br.Files {
			switch {
			case p.want == "" && f.Status == pipeline.StatusQueued:
				accepted = append(accepted, f)
			case p.want != "" && f.Status == pipeline.StatusRejected && f.Reason == p.want && strings.Contains(f.Error, f.Name):
			default:
				t.Errorf("upload %+v: file %+v (HTTP %d)", p, f, status)
			}
		}
	}
	if len(accepted) != 5 {
		t.Fatalf("%d files accepted, want 5", len(accepted))
	}
	var codes []string
	for _, f := range accepted {
		codes = append(codes, f.DossierCode)
	}
	// The counter skips the named code (and may leave a gap below it: the
	// next free code is found by a binary search, not a listing).
	if codes[0] != code(now, 1) || codes[1] != ahead || codes[2] != ahead ||
		!(codes[0] < codes[3] && codes[3] < codes[4]) || slices.Contains(codes[3:], ahead) {
		t.Errorf("dossier codes %v, want %s, %s twice, then two more allocated codes, neither %s", codes, code(now, 1), ahead, ahead)
	}

	deadline := time.Now().Add(5 * time.Minute)
	seen := map[string]string{}
	for _, f := range accepted {
		st, ok := awaitInput(t, base, f.InputKey, deadline)
		if !ok {
			t.Fatalf("%s still processing\nworker log:\n%s", f.Name, workerLog.String())
		}
		finals := 0
		for _, has := range []bool{len(st.Results) > 0, len(st.Review) > 0, st.Quarantine != nil} {
			if has {
				finals++
			}
		}
		if finals != 1 || !slices.Contains([]string{"issued", "review", "quarantined"}, st.State) {
			t.Errorf("%s ended %q with results %v, review %v, quarantine %+v; want exactly one final state",
				f.Name, st.State, st.Results, st.Review, st.Quarantine)
		}
		for _, r := range st.Results {
			if other, dup := seen[r]; dup {
				t.Errorf("result %s issued for both %s and %s", r, other, f.Name)
			}
			seen[r] = f.Name
			if !strings.HasPrefix(r, f.DossierCode+"-KQ") {
				t.Errorf("%s: result %s is not of its dossier %s", f.Name, r, f.DossierCode)
			}
		}
		t.Logf("%s: %s %s %v", f.Name, f.DossierCode, st.State, st.Results)
	}
	// The upload page shows these refusals in Vietnamese: TestBrowserSignIn
	// checks the page carries the reason texts.
}
