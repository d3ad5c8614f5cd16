package main

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/pipeline"
)

// TestBadBatch uploads every file of the hostile corpus together with one
// good scan, as one counter batch through `sohoa serve`, and checks that each
// bad file ends where it must (rejected at the door, quarantined with a
// stable code and its name, or sent to review), that none of them produces an
// e-result, and that the good scan in the same batch is still issued.
func TestBadBatch(t *testing.T) {
	stackTest(t, 4)
	bad := "../../../shared/corpus/bad"
	good := "../../../shared/corpus/dev/scan_0002.jpg"
	entries, err := os.ReadDir(bad)
	if err != nil {
		t.Fatalf("bad corpus missing beside the checkout: %v", err)
	}
	base, workerLog := startIntakeAndWorker(t)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("procedure_code", "1.000894")
	add := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fw, err := mw.CreateFormFile("files", filepath.Base(path))
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	longName := ""
	for _, e := range entries {
		if e.Name() == "README.md" || e.Name() == "bad_manifest.json" {
			continue
		}
		if len(e.Name()) > 200 {
			longName = e.Name()
		}
		add(filepath.Join(bad, e.Name()))
	}
	add(good)
	mw.Close()
	status, br := postBatch(t, base, &body, mw.FormDataContentType())
	if status != http.StatusMultiStatus {
		t.Fatalf("batch upload: %d %+v", status, br)
	}

	final := map[string]pipeline.InputStatus{}
	deadline := time.Now().Add(6 * time.Minute)
	for _, f := range br.Files {
		if f.Status == pipeline.StatusRejected {
			final[f.Name] = pipeline.InputStatus{File: f.Name, State: "rejected"}
			if !strings.Contains(f.Error, f.Name) {
				t.Errorf("%s rejected without naming the file: %q", f.Name, f.Error)
			}
			continue
		}
		st, ok := awaitInput(t, base, f.InputKey, deadline)
		if !ok {
			t.Fatalf("%s still processing\nworker log:\n%s", f.Name, workerLog.String())
		}
		final[f.Name] = st
	}

	quarantined := map[string]string{
		"truncated.jpg": pipeline.CodeUnreadable, "bomb_50000x50000.png": pipeline.CodeTooLarge,
		"corrupted.pdf": pipeline.CodeUnreadable, "encrypted_user_password.pdf": pipeline.CodeEncrypted,
		"actually_a_zip.pdf": pipeline.CodeUnsupported, "path_traversal.zip": pipeline.CodeUnsupported,
		"text_renamed.jpg": pipeline.CodeUnsupported, "zero_pages.tif": pipeline.CodeEmpty,
		"zero_pages.pdf": pipeline.CodeEmpty, "truncated_multipage.tif": pipeline.CodeUnreadable,
	}
	for name, code := range quarantined {
		st := final[name]
		if st.State != "quarantined" || st.Quarantine == nil || st.Quarantine.Code != code {
			t.Errorf("%s: state %q %+v, want quarantined with code %s", name, st.State, st.Quarantine, code)
			continue
		}
		if !strings.Contains(st.Quarantine.Error, name) {
			t.Errorf("%s: quarantine error does not name the file: %q", name, st.Quarantine.Error)
		}
	}
	if st := final["empty.pdf"]; st.State != "rejected" {
		t.Errorf("empty.pdf: state %q, want rejected at intake", st.State)
	}
	// Readable but not a complete document: a person decides.
	for _, name := range []string{"blank_page.jpg", "not_a_document_noise.jpg", "page2_is_1x1_image.pdf"} {
		if st := final[name]; st.State != "review" {
			t.Errorf("%s: state %q (%+v), want review", name, st.State, st)
		}
	}
	// Processed like any scan: the script is never run, the PNG is read as PNG.
	for _, name := range []string{"javascript.pdf", "png_named_as.tif", longName} {
		if st := final[name]; st.State == "quarantined" || st.State == "" {
			t.Errorf("%.40s…: state %q (%+v), want processed", name, st.State, st.Quarantine)
		}
	}
	if st := final[longName]; st.File != longName {
		t.Errorf("long file name not kept whole as metadata: got %d bytes, want %d", len(st.File), len(longName))
	}
	for name, st := range final {
		if len(st.Results) > 0 && name != "scan_0002.jpg" && name != "javascript.pdf" && name != "png_named_as.tif" && name != longName {
			t.Errorf("%s produced e-results %v", name, st.Results)
		}
	}
	if st := final["scan_0002.jpg"]; st.State != "issued" || len(st.Results) != 1 {
		t.Errorf("the good scan in the batch: %+v, want issued", st)
	}
}
