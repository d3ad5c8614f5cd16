package api

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/internal/testenv"
	"sohoa/signing"
	"sohoa/storage"
)

// signedWithData renders a one-page e-result with data embedded and signs
// it with fresh development keys; it returns the PDF and the CA file.
func signedWithData(t *testing.T, m storage.Manifest, data []byte) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := signing.NewRenderer(signing.RendererConfig{})
	if err != nil {
		testenv.Missing(t, "renderer fonts: "+err.Error(), "deploy/local/deps.sh installs them")
	}
	img := image.NewGray(image.Rect(0, 0, 620, 877)) // A4 at 75 dpi
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for x := 60; x < 560; x++ {
		img.SetGray(x, 120, color.Gray{})
	}
	unsigned, err := r.Render(t.Context(), signing.RenderInput{Pages: []signing.Page{{Image: img, DPI: 75}}, Data: data,
		Meta: signing.Metadata{Title: m.DocTypeName, ResultCode: m.ResultCode, DossierCode: m.DossierCode, ProcedureCode: m.ProcedureCode,
			DocType: m.DocType, Agency: m.ConvertingAgency.Name, AgencyCode: m.ConvertingAgency.Code, IssuingAuthority: m.IssuingAuthority.Name,
			SourceSHA256: m.Digitization.SourceScanSHA256, ConvertedAt: m.Digitization.ScannedAt}})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signing.Sign(t.Context(), unsigned, keys, signing.SignOptions{Reason: "test", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return signed, filepath.Join(dir, signing.DevCAFile)
}

// TestResultDataS3: GET /v1/results/{code}/data over the real repository
// on the local stack's S3 server answers the data document embedded in the
// signed PDF: the same bytes pdfdetach extracts from GET …/pdf (whose
// signature pdfsig accepts), with their SHA-256 and the PDF's; the read
// needs the access handle and is audited. A result filed before data was
// embedded answers the same document rebuilt from its sealed record,
// marked not embedded.
func TestResultDataS3(t *testing.T) {
	pdfsig := testenv.MustHaveExecPath(t, "pdfsig")
	pdfdetach := testenv.MustHaveExecPath(t, "pdfdetach")
	certutil := testenv.MustHaveExecPath(t, "certutil")
	f := newFixture(t, fixtureOpts{bucket: testBucket(t, "data")})
	verified := time.Date(2025, 7, 18, 3, 0, 0, 0, time.UTC)
	extracted := map[string]storage.ExtractedField{
		"full_name":     {Value: holders[0].name, Confidence: 0.97, VerifiedBy: "reviewer1", VerifiedAt: &verified},
		"date_of_birth": {Value: "04/06/1986", Confidence: 0.91},
		"residence":     {Value: "Số 48/30 đường Ngô Quyền <A&B>", Confidence: 0.62},
	}
	m := f.manifest("GKS", "Giấy khai sinh", 9)
	data, err := storage.NewResultData(m, extracted).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pdf, caFile := signedWithData(t, m, data)
	m.File.DataSHA256 = storage.SHA256Hex(data)
	f.fileResult(m, 0, pdf, extracted)
	code := m.ResultCode

	hc := f.client(f.creds["demo-mtls"])
	got := f.do(hc, f.creds["demo-mtls"], call{method: "GET", path: "/v1/results/" + code + "/data", access: true})
	if got.status != 200 {
		t.Fatalf("got %d %s", got.status, got.body)
	}
	var resp dataResponse
	if err := json.Unmarshal(got.body, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Embedded || resp.Attachment != signing.DataFileName || resp.ResultCode != code ||
		resp.PDFSHA256 != f.sha[code] || resp.DataSHA256 != storage.SHA256Hex(data) || !resp.Validity.Valid {
		t.Errorf("got %+v, want embedded %s, the PDF's and the data's SHA-256, valid", resp, signing.DataFileName)
	}
	if !bytes.Equal(resp.Data, data) {
		t.Errorf("data: got %s, want the embedded bytes %s", resp.Data, data)
	}
	if storage.SHA256Hex(resp.Data) != resp.DataSHA256 {
		t.Errorf("data_sha256 %s is not the SHA-256 of data", resp.DataSHA256)
	}
	var doc storage.ResultData
	if err := json.Unmarshal(resp.Data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Fields["full_name"].Value != holders[0].name || !doc.Fields["full_name"].VerifiedByPerson || doc.Fields["date_of_birth"].VerifiedByPerson ||
		doc.Fields["residence"].Confidence != 0.62 || doc.DocType != "GKS" || doc.ResultCode != code ||
		doc.ConvertingAgency != (storage.Agency{Code: agency, Name: agencyName}) || doc.IssuingAuthority == nil || doc.IssuingAuthority.Name != authorityName {
		t.Errorf("data document: got %+v", doc)
	}
	rec, ok := f.rec.get(got.header.Get("X-Request-Id"))
	if !ok || rec.Decision != audit.Allow || rec.Rule != "scope:read_pdf" || rec.ResultCode != code ||
		rec.CitizenHash != audit.CitizenHash(f.auditKey, "CCCD", holders[0].id) || len(rec.Returned) != 1 || rec.Returned[0].SHA256 != f.sha[code] {
		t.Errorf("audit record: got %+v", rec)
	}

	// What a receiver does: check the PDF's signature, extract the
	// attachment, compare the bytes.
	pdfGot := f.do(hc, f.creds["demo-mtls"], call{method: "GET", path: "/v1/results/" + code + "/pdf", access: true})
	if pdfGot.status != 200 || storage.SHA256Hex(pdfGot.body) != resp.PDFSHA256 {
		t.Fatalf("GET pdf: %d, sha256 %s, want %s", pdfGot.status, storage.SHA256Hex(pdfGot.body), resp.PDFSHA256)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(file, pdfGot.body, 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "nss")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-N", "-d", "sql:" + db, "--empty-password"}, {"-A", "-d", "sql:" + db, "-n", "ca", "-t", "CT,C,C", "-i", caFile}} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	out, _ := exec.Command(pdfsig, "-nssdir", "sql:"+db, file).CombinedOutput()
	if !strings.Contains(string(out), "Signature is Valid") || !strings.Contains(string(out), "Total document signed") ||
		!strings.Contains(string(out), "adbe.pkcs7.detached") {
		t.Errorf("pdfsig:\n%s", out)
	}
	att := filepath.Join(dir, "data.json")
	if out, err := exec.Command(pdfdetach, "-save", "1", "-o", att, file).CombinedOutput(); err != nil {
		t.Fatalf("pdfdetach: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(att); err != nil || !bytes.Equal(b, resp.Data) {
		t.Errorf("pdfdetach extracted %q (%v), want /data's bytes %q", b, err, resp.Data)
	}

	// A result filed before data was embedded.
	old := f.do(hc, f.creds["demo-mtls"], call{method: "GET", path: "/v1/results/" + f.gks[0] + "/data", access: true})
	var oresp dataResponse
	if err := json.Unmarshal(old.body, &oresp); err != nil || old.status != 200 {
		t.Fatalf("old result: got %d %s", old.status, old.body)
	}
	if oresp.Embedded || oresp.Attachment != "" || oresp.DataSHA256 != storage.SHA256Hex(oresp.Data) || !json.Valid(oresp.Data) {
		t.Errorf("old result: got %+v, want not embedded, data with its hash", oresp)
	}

	// No access handle, no scope: refused and audited.
	if got := f.do(hc, f.creds["demo-mtls"], call{method: "GET", path: "/v1/results/" + code + "/data"}); got.status != 403 {
		t.Errorf("without access handle: got %d, want 403", got.status)
	}
	so := f.creds["search-only"]
	if got := f.do(f.client(so), so, call{method: "GET", path: "/v1/results/" + code + "/data", access: true}); got.status != 403 {
		t.Errorf("search-only client: got %d, want 403", got.status)
	}
}

// TestResultDataIntegrityFailure: a manifest that names a data document
// its signed PDF does not hold answers 502 integrity_failure (audited as a
// denial), never data the signature does not cover.
func TestResultDataIntegrityFailure(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.manifest("GKS", "Giấy khai sinh", 9)
	m.File.DataSHA256 = storage.SHA256Hex([]byte(`{"schema":"sohoa-eresult-data/1"}`))
	f.fileResult(m, 0, []byte("%PDF-1.7\n% no data attached\n%%EOF\n"), nil)
	c := f.creds["demo-mtls"]
	got := f.do(f.client(c), c, call{method: "GET", path: "/v1/results/" + m.ResultCode + "/data", access: true})
	var e errorBody
	if err := json.Unmarshal(got.body, &e); err != nil || got.status != 502 || e.Error.Code != "integrity_failure" {
		t.Fatalf("got %d %s, want 502 integrity_failure", got.status, got.body)
	}
	if rec := f.record(t, got); rec.Decision != audit.Deny || rec.Rule != "integrity_failure" || rec.ResultCode != m.ResultCode {
		t.Errorf("audit record: got %+v, want deny integrity_failure for %s", rec, m.ResultCode)
	}
}
