package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/ocr/pdftext/pdftexttest"
	"sohoa/pipeline"
	"sohoa/storage"
)

// bornDigitalTruths are the dev corpus's truth files of one result
// document on one page with no expected validation error, in name order:
// what a born-digital PDF drawn from its text must file whole.
func bornDigitalTruths(t *testing.T) []*ocr.Truth {
	t.Helper()
	files, err := filepath.Glob("../../../shared/corpus/dev/*.truth.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	slices.Sort(files)
	var out []*ocr.Truth
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ocr.ParseTruth(b)
		if err != nil {
			t.Fatal(err)
		}
		d := tr.Documents
		if len(d) == 1 && len(tr.Pages) == 1 && d[0].DocType == tr.DocType && d[0].ExpectedValidationError == nil {
			out = append(out, tr)
		}
	}
	if len(out) < 2 {
		t.Fatalf("%d dev truths of one result page, want 2", len(out))
	}
	return out
}

// uploadPDF uploads one PDF as a one-file batch (one dossier), queued.
func uploadPDF(t *testing.T, base, name string, pdf []byte) pipeline.Submission {
	t.Helper()
	sub := uploadOne(t, base, name, pdf)
	if sub.Status != pipeline.StatusQueued {
		t.Fatalf("upload %s: %+v, want queued", name, sub)
	}
	return sub
}

// verifyUpload posts a PDF to the reuse API's POST /v1/verify.
func verifyUpload(t *testing.T, hc *http.Client, api string, pdf []byte) (status int, vr struct {
	SHA256    string `json:"sha256"`
	Integrity struct {
		Matched    bool   `json:"matched"`
		ResultCode string `json:"result_code"`
		Identical  bool   `json:"identical"`
	} `json:"integrity"`
	Signature struct {
		Checked, Valid bool
		Anchor, Signer string
	} `json:"signature"`
}, body []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", api+"/v1/verify", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("X-Purpose-Procedure", "1.004873")
	req.Header.Set("X-Purpose-Dossier", "000.00.31.H29-251122-0001")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &vr); err != nil {
		t.Fatalf("POST /v1/verify: %d %s", resp.StatusCode, body)
	}
	return resp.StatusCode, vr, body
}

// TestPDFKindsOnTheStack drives PDFs that are not scans through a real
// `sohoa serve` and `sohoa worker` (real Redis, S3, poppler, Tesseract and
// verifier children): (a) a born-digital result signed by a second test CA
// that SOHOA_TRUSTED_CAS trusts is issued as it is — the stored PDF is the
// upload byte for byte, origin born_digital, its own signer in the
// manifest — and POST /v1/verify reports it valid under anchor
// trusted_agency, matched; (b) the same file with one byte of its signed
// range altered goes to review with signature_invalid and verifies
// invalid; (c) an unsigned born-digital PDF drawn from another dev truth
// is issued or sent to review by its extraction, its page recorded as a
// text page read from its layer, and an issued one verifies under anchor
// own_ca.
func TestPDFKindsOnTheStack(t *testing.T) {
	local := stackTest(t, 9)
	testenv.MustHaveFile(t, pdftexttest.DefaultFont, "make deps installs fonts-liberation2")
	font, err := pdftexttest.LoadFont(pdftexttest.DefaultFont)
	if err != nil {
		t.Fatal(err)
	}
	truths := bornDigitalTruths(t)
	at := time.Now().Add(-time.Hour)
	agency, err := pdftexttest.NewAgency("Sở Tư pháp tỉnh B", at.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(local, "other-agencies.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: agency.CA.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOHOA_TRUSTED_CAS", caFile)

	unsignedA, err := pdftexttest.BornDigital(font, truths[0], pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := agency.Sign(context.Background(), unsignedA, at)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of the signed range: the binary comment of the header,
	// which no PDF reader interprets, so only the signature notices.
	altered := slices.Clone(signed)
	if altered[10] < 0x80 {
		t.Fatalf("byte 10 of the signed PDF is %q, want the header's binary comment", altered[10])
	}
	altered[10] ^= 0x01
	bornC, err := pdftexttest.BornDigital(font, truths[1], pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}

	intakeAddr, apiAddr := freeAddr(t), freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", apiAddr)
	startCommand(t, "serve")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	hc := devClient(t, filepath.Join(local, "keys"))
	api := "https://" + apiAddr
	waitHTTPClient(t, hc, api+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")

	subA := uploadPDF(t, base, "ket_qua_tinh_B.pdf", signed)
	subB := uploadPDF(t, base, "ket_qua_tinh_B_sua.pdf", altered)
	subC := uploadPDF(t, base, "ban_dien_tu.pdf", bornC)
	deadline := time.Now().Add(50 * time.Second)
	stA, okA := awaitInput(t, base, subA.InputKey, deadline)
	stB, okB := awaitInput(t, base, subB.InputKey, deadline)
	stC, okC := awaitInput(t, base, subC.InputKey, deadline)
	if !okA || !okB || !okC {
		t.Fatalf("not settled in time: %+v %+v %+v\nworker log:\n%s", stA, stB, stC, workerLog.String())
	}

	ctx := context.Background()
	repo, err := openRepository(ctx, envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	record := func(key string) pipeline.Record {
		t.Helper()
		var rec pipeline.Record
		if err := repo.GetSealedJSON(ctx, storage.RecordKey(key), &rec); err != nil {
			t.Fatalf("record of %s: %v", key, err)
		}
		return rec
	}

	t.Run("signed by a trusted agency: filed as it is", func(t *testing.T) {
		if stA.State != "issued" || len(stA.Results) != 1 {
			t.Fatalf("state %+v, want issued with one result\nworker log:\n%s", stA, workerLog.String())
		}
		code := stA.Results[0]
		if got, want := storage.SHA256Hex(openPDF(t, repo, code)), storage.SHA256Hex(signed); got != want {
			t.Fatalf("stored PDF has sha256 %s, the upload %s: not filed byte-identical", got, want)
		}
		m, err := repo.Get(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if m.Origin != storage.OriginBornDigital || m.Digitization != nil {
			t.Errorf("origin %q digitization %+v, want born_digital and none", m.Origin, m.Digitization)
		}
		if m.File.Signer != "Sở Tư pháp tỉnh B" || !m.File.ExternalSigner ||
			m.File.SignerCertSHA256 != storage.SHA256Hex(agency.Keys.Cert().Raw) || m.File.SHA256 != storage.SHA256Hex(signed) {
			t.Errorf("manifest file %+v, want the agency's own signer and the upload's sha256", m.File)
		}
		if m.DocType != truths[0].DocType {
			t.Errorf("doc type %q, want %q", m.DocType, truths[0].DocType)
		}
		if rec := record(subA.InputKey); rec.Signature == nil || !rec.Signature.Valid {
			t.Errorf("record signature check %+v, want valid", rec.Signature)
		}
		status, vr, body := verifyUpload(t, hc, api, signed)
		if status != 200 || !vr.Signature.Valid || vr.Signature.Anchor != "trusted_agency" || vr.Signature.Signer != "Sở Tư pháp tỉnh B" ||
			!vr.Integrity.Matched || !vr.Integrity.Identical || vr.Integrity.ResultCode != code {
			t.Errorf("POST /v1/verify: %d %s, want valid under trusted_agency, matched and identical to %s", status, body, code)
		}
	})

	t.Run("altered after signing: review", func(t *testing.T) {
		if stB.State != "review" || len(stB.Results) != 0 {
			t.Fatalf("state %+v, want review and no result\nworker log:\n%s", stB, workerLog.String())
		}
		if len(stB.Review) == 0 || !slices.Contains(stB.Review[0].Reasons, pipeline.ReasonSignatureInvalid) {
			t.Errorf("review %+v, want the reason %s", stB.Review, pipeline.ReasonSignatureInvalid)
		}
		if rec := record(subB.InputKey); rec.Signature == nil || rec.Signature.Valid || rec.Signature.Reason != pipeline.ReasonSignatureInvalid {
			t.Errorf("record signature check %+v, want invalid", rec.Signature)
		}
		kept, _, err := repo.Intake(ctx, subB.InputKey)
		if err != nil || !bytes.Equal(kept, altered) {
			t.Errorf("intake does not keep the original bytes (err %v)", err)
		}
		status, vr, body := verifyUpload(t, hc, api, altered)
		if status != 200 || vr.Signature.Valid || vr.Signature.Anchor != "" || vr.Integrity.Matched {
			t.Errorf("POST /v1/verify: %d %s, want an invalid signature matching nothing", status, body)
		}
	})

	t.Run("born digital, unsigned: its text layer", func(t *testing.T) {
		rec := record(subC.InputKey)
		if rec.Signature != nil {
			t.Errorf("an unsigned PDF has a signature check %+v", rec.Signature)
		}
		if len(rec.Result.Pages) != 1 || rec.Result.Pages[0].Kind != "text" || rec.Result.Pages[0].Source != "text-layer" {
			t.Fatalf("pages %d, first kind %q source %q; want one text page read from its layer", len(rec.Result.Pages),
				rec.Result.Pages[0].Kind, rec.Result.Pages[0].Source)
		}
		if len(rec.Result.Documents) != 1 || rec.Result.Documents[0].DocType != truths[1].DocType {
			t.Errorf("documents %+v, want one %s", rec.Result.Documents, truths[1].DocType)
		}
		switch stC.State {
		case "issued":
			code := stC.Results[0]
			m, err := repo.Get(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			if m.File.ExternalSigner || m.File.Signer == "Sở Tư pháp tỉnh B" {
				t.Errorf("manifest file %+v: an unsigned input is signed by this agency", m.File)
			}
			status, vr, body := verifyUpload(t, hc, api, openPDF(t, repo, code))
			if status != 200 || !vr.Signature.Valid || vr.Signature.Anchor != "own_ca" || vr.Integrity.ResultCode != code {
				t.Errorf("POST /v1/verify of its e-result: %d %s, want valid under own_ca, matched %s", status, body, code)
			}
		case "review":
			if len(stC.Review) == 0 || slices.Contains(stC.Review[0].Reasons, pipeline.ReasonSignatureInvalid) {
				t.Errorf("review %+v: want reasons of its extraction", stC.Review)
			}
			t.Logf("born-digital %s went to review: %v", truths[1].File, stC.Review[0].Reasons)
		default:
			t.Fatalf("state %+v, want issued or review\nworker log:\n%s", stC, workerLog.String())
		}
	})
}
