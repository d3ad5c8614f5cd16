package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/internal/testenv"
	"sohoa/ocr/pdftext/pdftexttest"
	"sohoa/signing"
	"sohoa/signing/signingtest"
	"sohoa/storage"
)

// signedResult renders and signs a one-page e-result for code with keys.
func signedResult(t *testing.T, keys *signing.Keys, code, source string) []byte {
	t.Helper()
	r, err := signing.NewRenderer(signing.RendererConfig{})
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("renderer fonts: %v", err), "make deps installs fonts-liberation2")
	}
	img := image.NewGray(image.Rect(0, 0, 120, 170))
	for i := range img.Pix {
		img.Pix[i] = uint8(255 - i%7*20)
	}
	dossier := strings.TrimSuffix(code, "-KQ1")
	unsigned, err := r.Render(t.Context(), signing.RenderInput{
		Pages: []signing.Page{{Image: img, DPI: 72}},
		Meta: signing.Metadata{Title: "Giấy khai sinh", ResultCode: code, DossierCode: dossier, Agency: "UBND phường Bến Nghé",
			AgencyCode: agency, ConvertedAt: time.Now(), SourceSHA256: source,
			VerifyURL: "https://sohoa.example.vn/v/" + code + "?k=abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signing.Sign(t.Context(), unsigned, keys, signing.SignOptions{Name: "api test"})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// swapHexCase swaps the case of the hex digits of the signature's
// /Contents, the one part of the file its signature cannot cover.
func swapHexCase(t *testing.T, pdf []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no ByteRange")
	}
	b, _ := strconv.Atoi(string(m[1]))
	c, _ := strconv.Atoi(string(m[2]))
	out := bytes.Clone(pdf)
	for i := b + 1; i < c-1; i++ {
		switch x := out[i]; {
		case x >= 'a' && x <= 'f':
			out[i] = x - 'a' + 'A'
		case x >= 'A' && x <= 'F':
			out[i] = x - 'A' + 'a'
		}
	}
	return out
}

// TestVerifyFindsResultBySignedContent: an upload is found by what its
// signature covers, not by the file's hash. A revoked result whose
// /Contents hex has its case swapped (a different SHA-256, the same valid
// signature) is reported revoked, not as a valid file of no known result.
func TestVerifyFindsResultBySignedContent(t *testing.T) {
	dir := t.TempDir()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := signing.LoadCertPool(filepath.Join(dir, signing.DevCAFile))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOpts{verifyPDF: func(_ context.Context, pdf []byte) (signing.Verdict, error) {
		return signing.Verify(pdf, signing.VerifyOptions{Roots: roots})
	}})
	code := resultCode(5)
	signed := signedResult(t, keys, code, strings.Repeat("ab", 32))
	f.fileWith("GKS", "Giấy khai sinh", 0, 5, signed)
	if err := f.repo.AppendStatus(t.Context(), code, storageRevoked("QD-5/2025")); err != nil {
		t.Fatal(err)
	}
	swapped := swapHexCase(t, signed)
	if sha256.Sum256(swapped) == sha256.Sum256(signed) {
		t.Fatal("the case swap left the hash unchanged")
	}
	// Same code, other content, validly signed by the same key: not the
	// filed result.
	otherContent := signedResult(t, keys, code, strings.Repeat("cd", 32))
	unknownCode := signedResult(t, keys, resultCode(999), strings.Repeat("ab", 32))

	c := f.creds["demo-mtls"]
	hc := f.client(c)
	upload := func(pdf []byte) (verifyResponse, reply) {
		t.Helper()
		got := f.do(hc, c, call{method: "POST", path: "/v1/verify", ctype: "application/pdf", body: pdf})
		var vr verifyResponse
		if err := json.Unmarshal(got.body, &vr); err != nil || got.status != 200 {
			t.Fatalf("got %d %s", got.status, got.body)
		}
		return vr, got
	}
	tests := []struct {
		name               string
		pdf                []byte
		matched, identical bool
	}{
		{"the stored file", signed, true, true},
		{"/Contents hex case swapped", swapped, true, false},
		{"same code, other signed content", otherContent, false, false},
		{"a code not filed", unknownCode, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vr, got := upload(tc.pdf)
			sum := sha256.Sum256(tc.pdf)
			if !vr.Signature.Checked || !vr.Signature.Valid || vr.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("got signature %+v sha256 %s, want checked and valid, the file's sha256", vr.Signature, vr.SHA256)
			}
			if vr.Integrity.Matched != tc.matched || vr.Integrity.Identical != tc.identical {
				t.Fatalf("got integrity %+v, want matched=%v identical=%v", vr.Integrity, tc.matched, tc.identical)
			}
			rec, _ := f.rec.get(got.header.Get("X-Request-Id"))
			if !tc.matched {
				if vr.Status != nil || vr.Integrity.ResultCode != "" || len(rec.Returned) != 0 {
					t.Errorf("got status %+v code %q returned %v, want none", vr.Status, vr.Integrity.ResultCode, rec.Returned)
				}
				return
			}
			if vr.Integrity.ResultCode != code || vr.Status == nil || vr.Status.Valid || vr.Status.Reason != "REVOKED" {
				t.Errorf("got code %q status %+v, want %s REVOKED", vr.Integrity.ResultCode, vr.Status, code)
			}
			if rec.ResultCode != code || len(rec.Returned) != 1 || rec.Returned[0].SHA256 != f.sha[code] {
				t.Errorf("got audit record %+v, want the result and its stored sha256", rec)
			}
		})
	}
	// By hash only, nothing is verified: the swapped copy's hash is no
	// stored file's.
	got := f.do(hc, c, call{method: "POST", path: "/v1/verify", body: fmt.Appendf(nil, `{"sha256":"%x"}`, sha256.Sum256(swapped))})
	if got.status != 200 || !bytes.Contains(got.body, []byte(`"matched":false`)) || !bytes.Contains(got.body, []byte(`"status":null`)) {
		t.Errorf("hash of the swapped copy: got %d %s, want matched false, no status", got.status, got.body)
	}
}

// TestVerifyRefusesHostilePDF: a file the verifier refuses before parsing
// (the nested CMS that ended the server), kills or stalls answers 422 with
// the reason and leaves an audit record; the verifier's own failure is 503;
// the server answers the next request.
func TestVerifyRefusesHostilePDF(t *testing.T) {
	crash := fmt.Errorf("verify in child: %w (signal: killed)", signing.ErrChildCrashed)
	tests := []struct {
		name   string
		verify PDFVerifier
		status int
		code   string
		rule   string
		detail string
	}{
		{"nested CMS, real verifier", func(_ context.Context, pdf []byte) (signing.Verdict, error) {
			return signing.Verify(pdf, signing.VerifyOptions{})
		}, 422, "signature_structure_refused", "pdf_refused_limit", "too deeply nested"},
		{"child crashed", func(context.Context, []byte) (signing.Verdict, error) { return signing.Verdict{}, crash },
			422, "verifier_crashed", "pdf_refused_crash", ""},
		{"child timed out", func(context.Context, []byte) (signing.Verdict, error) {
			return signing.Verdict{}, fmt.Errorf("verify in child: %w", signing.ErrChildTimeout)
		}, 422, "verify_timeout", "pdf_refused_timeout", ""},
		{"verifier broken", func(context.Context, []byte) (signing.Verdict, error) {
			return signing.Verdict{}, errors.New("verify in child: start: no such file")
		}, 503, "unavailable", "verifier_unavailable", ""},
	}
	hostile := signingtest.SignedShell(signingtest.NestedCMS(3_000_000))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{verifyPDF: tc.verify})
			c := f.creds["demo-mtls"]
			hc := f.client(c)
			got := f.do(hc, c, call{method: "POST", path: "/v1/verify", ctype: "application/pdf", body: hostile})
			var e errorBody
			json.Unmarshal(got.body, &e)
			if got.status != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.detail) {
				t.Fatalf("got %d %s, want %d %s mentioning %q", got.status, got.body, tc.status, tc.code, tc.detail)
			}
			rec, ok := f.rec.get(got.header.Get("X-Request-Id"))
			if !ok || rec.Decision != audit.Deny || rec.Rule != tc.rule || rec.Status != tc.status || rec.ClientID != DevClient {
				t.Errorf("got audit record %+v (found %v), want deny %s %d by %s", rec, ok, tc.rule, tc.status, DevClient)
			}
			if r := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"}); r.status != http.StatusOK {
				t.Errorf("next request: got %d, want 200", r.status)
			}
		})
	}
}

func storageRevoked(decision string) storage.StatusEvent {
	return storage.StatusEvent{At: time.Now(), Status: storage.StatusRevoked, DecisionRef: decision, ReasonCode: "ERROR"}
}

// TestVerifyTrustedAgencyAnchor: an upload signed by another agency whose
// CA this one trusts (VerifyAgencyPDF, SOHOA_TRUSTED_CAS) is valid with
// anchor trusted_agency and its signer; it matches a result only as the
// exact bytes filed (a signed input filed as it is), never by the result
// code its metadata claims. The agency's own results keep anchor own_ca;
// an altered or a stranger's file, or any agency file without
// VerifyAgencyPDF, is invalid; a second verifier that crashes refuses the
// file.
func TestVerifyTrustedAgencyAnchor(t *testing.T) {
	dir := t.TempDir()
	own, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	ownRoots, err := signing.LoadCertPool(filepath.Join(dir, signing.DevCAFile))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().Add(-24 * time.Hour)
	trusted, err := pdftexttest.NewAgency("Sở Tư pháp tỉnh B", from)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pdftexttest.NewAgency("Cơ quan lạ", from)
	if err != nil {
		t.Fatal(err)
	}
	agencyRoots := x509.NewCertPool()
	agencyRoots.AddCert(trusted.CA)
	verifyWith := func(roots *x509.CertPool) PDFVerifier {
		return func(_ context.Context, pdf []byte) (signing.Verdict, error) {
			return signing.Verify(pdf, signing.VerifyOptions{Roots: roots})
		}
	}
	crash := func(context.Context, []byte) (signing.Verdict, error) {
		return signing.Verdict{}, fmt.Errorf("verify in child: %w (signal: killed)", signing.ErrChildCrashed)
	}

	src := strings.Repeat("ab", 32)
	ownResult := signedResult(t, own, resultCode(6), src)
	// Filed as it is by the worker: our code, the agency's bytes.
	filedAgency := signedResult(t, trusted.Keys, resultCode(7), src)
	// Validly signed by the agency, naming our filed result 6 in its
	// metadata: the agency's code space is not ours.
	claimsOurs := signedResult(t, trusted.Keys, resultCode(6), strings.Repeat("cd", 32))
	notFiled := signedResult(t, trusted.Keys, resultCode(8), src)
	altered := bytes.Clone(filedAgency)
	i := bytes.Index(altered, []byte("/Type"))
	altered[i+1] ^= 0x20
	strangers := signedResult(t, stranger.Keys, resultCode(9), src)

	tests := []struct {
		name    string
		agency  PDFVerifier
		pdf     []byte
		status  int
		valid   bool
		anchor  string
		signer  string
		matched string // result code; "" none
	}{
		{"own result", verifyWith(agencyRoots), ownResult, 200, true, AnchorOwnCA, "sohoa development signer", resultCode(6)},
		{"agency file filed as it is", verifyWith(agencyRoots), filedAgency, 200, true, AnchorTrustedAgency, "Sở Tư pháp tỉnh B", resultCode(7)},
		{"agency file naming our result", verifyWith(agencyRoots), claimsOurs, 200, true, AnchorTrustedAgency, "Sở Tư pháp tỉnh B", ""},
		{"agency file not filed", verifyWith(agencyRoots), notFiled, 200, true, AnchorTrustedAgency, "Sở Tư pháp tỉnh B", ""},
		{"agency file altered", verifyWith(agencyRoots), altered, 200, false, "", "", ""},
		{"stranger's file", verifyWith(agencyRoots), strangers, 200, false, "", "", ""},
		{"no trusted agencies", nil, filedAgency, 200, false, "", "", ""},
		{"agency verifier crashed", crash, filedAgency, 422, false, "", "", ""},
		{"own result, agency verifier never asked", crash, ownResult, 200, true, AnchorOwnCA, "sohoa development signer", resultCode(6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{verifyPDF: verifyWith(ownRoots), verifyAgencyPDF: tc.agency})
			f.fileWith("GKS", "Giấy khai sinh", 0, 6, ownResult)
			f.fileWith("GKS", "Giấy khai sinh", 0, 7, filedAgency)
			c := f.creds["demo-mtls"]
			got := f.do(f.client(c), c, call{method: "POST", path: "/v1/verify", ctype: "application/pdf", body: tc.pdf})
			if got.status != tc.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var vr verifyResponse
			if err := json.Unmarshal(got.body, &vr); err != nil {
				t.Fatal(err)
			}
			s := vr.Signature
			if !s.Checked || s.Valid != tc.valid || s.Anchor != tc.anchor || (tc.signer != "" && s.Signer != tc.signer) {
				t.Fatalf("got signature %+v, want valid=%v anchor %q signer %q", s, tc.valid, tc.anchor, tc.signer)
			}
			if !tc.valid && s.Signer != "" {
				t.Errorf("an invalid signature names its signer %q", s.Signer)
			}
			if vr.Integrity.ResultCode != tc.matched || vr.Integrity.Matched != (tc.matched != "") ||
				vr.Integrity.Identical != (tc.matched != "") || (vr.Status != nil) != (tc.matched != "") {
				t.Fatalf("got integrity %+v status %+v, want matched %q identical", vr.Integrity, vr.Status, tc.matched)
			}
		})
	}
}
