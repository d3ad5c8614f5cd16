package pipeline

import (
	"context"
	"crypto/x509"
	"io"

	"slices"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/ocr/pdftext/pdftexttest"
	"sohoa/signing"
	"sohoa/storage"
)

// strictVerifier is the strict verifier in this process (the worker runs
// the same checks in a child, signing.ChildVerifier).
type strictVerifier struct {
	roots *x509.CertPool
	now   time.Time
}

func (v strictVerifier) Verify(_ context.Context, pdf []byte) (signing.Verdict, error) {
	return signing.Verify(pdf, signing.VerifyOptions{Roots: v.roots, Now: v.now})
}

// signedInput is a born-digital result signed by another agency's test CA.
func signedInput(t *testing.T, agency *pdftexttest.Agency, at time.Time) []byte {
	t.Helper()
	testenv.MustHaveFile(t, pdftexttest.DefaultFont, "make deps installs fonts-liberation2")
	f, err := pdftexttest.LoadFont(pdftexttest.DefaultFont)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := pdftexttest.Write(f, []pdftexttest.Page{{Texts: pdftexttest.LayoutLines(f, []string{"XÁC NHẬN TÌNH TRẠNG HÔN NHÂN"})}}, pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := agency.Sign(context.Background(), unsigned, at)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestSignedInputs(t *testing.T) {
	at := time.Now().Add(-time.Hour)
	trusted, err := pdftexttest.NewAgency("Sở Tư pháp tỉnh B", at.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pdftexttest.NewAgency("Cơ quan lạ", at.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	good := signedInput(t, trusted, at)
	altered := slices.Clone(good)
	// One byte of the signed page content, changed after signing.
	i := slices.Index(altered, byte('/'))
	altered[i+1] ^= 0x20
	roots := x509.NewCertPool()
	roots.AddCert(trusted.CA)

	for _, c := range []struct {
		name     string
		data     []byte
		verifier SignatureVerifier
		reason   string // "" : filed as it is
	}{
		{"valid", good, strictVerifier{roots: roots}, ""},
		{"altered", altered, strictVerifier{roots: roots}, ReasonSignatureInvalid},
		{"appended", append(slices.Clone(good), []byte("\n% appended\n")...), strictVerifier{roots: roots}, ReasonSignatureInvalid},
		{"untrusted signer", signedInput(t, stranger, at), strictVerifier{roots: roots}, ReasonSignatureUntrusted},
		{"no trusted CAs", good, nil, ReasonSignatureUntrusted},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			pages, _ := loadFixture(t)
			res := pages[1]
			res.Number = 1
			h.rec.pages = []ocr.Page{res}
			h.pipe.o.Signatures = c.verifier
			ctx := context.Background()
			sub, err := h.intake.Submit(ctx, c.data, storage.IntakeMeta{Name: "ket_qua.pdf", Source: SourceBackfill, ProcedureCode: "1.004873"})
			if err != nil {
				t.Fatal(err)
			}
			h.runAll(t)
			var rec Record
			if err := h.repo.GetSealedJSON(ctx, storage.RecordKey(sub.InputKey), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Signature == nil {
				t.Fatal("no signature check recorded")
			}
			// The intake keeps the original bytes in every case.
			kept, _, err := h.repo.Intake(ctx, sub.InputKey)
			if err != nil || !slices.Equal(kept, c.data) {
				t.Fatalf("intake does not hold the original bytes (err %v)", err)
			}
			code := sub.DossierCode + "-KQ1"
			m, err := h.repo.Get(ctx, code)
			if c.reason != "" {
				if err == nil {
					t.Fatalf("filed %s despite %s", code, c.reason)
				}
				if len(rec.Decisions) != 1 || rec.Decisions[0].Action != ActionReview || !slices.Contains(rec.Decisions[0].Reasons, c.reason) {
					t.Fatalf("decisions %+v, want review for %s", rec.Decisions, c.reason)
				}
				if txt := StaffReason(StaffTexts(), c.reason); txt == unknownReason {
					t.Errorf("no staff text for %s", c.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("not filed: %v (decisions %+v)", err, rec.Decisions)
			}
			if len(h.iss.reqs) != 0 {
				t.Error("a validly signed input was re-rendered and re-signed")
			}
			rc, _, err := h.repo.OpenPDF(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			pdf, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pdf, good) || m.File.SHA256 != storage.SHA256Hex(good) {
				t.Error("the filed PDF is not byte-identical to the signed input")
			}
			if m.Origin != storage.OriginBornDigital || m.Digitization != nil {
				t.Errorf("origin %s, digitization %+v", m.Origin, m.Digitization)
			}
			if m.File.Signer != "Sở Tư pháp tỉnh B" || !m.File.ExternalSigner ||
				m.File.SignerCertSHA256 != storage.SHA256Hex(trusted.Keys.Cert().Raw) {
				t.Errorf("manifest file %+v: want the input's own signer", m.File)
			}
		})
	}
}
