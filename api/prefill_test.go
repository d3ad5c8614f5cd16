package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/ocr"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite api/testdata/*.golden.json")

// corpusDoc is one document of a dev-corpus truth file.
type corpusDoc struct {
	DocType    string            `json:"doc_type"`
	Fields     map[string]string `json:"fields"`
	HolderID   string            `json:"holder_personal_id"`
	ValidUntil *string           `json:"valid_until"`
}

// corpusDocs reads the documents of a dev-corpus truth file, by type.
func corpusDocs(t *testing.T, name string) map[string]corpusDoc {
	t.Helper()
	b, err := os.ReadFile("../../shared/corpus/dev/" + name)
	if err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	var truth struct {
		Documents []corpusDoc `json:"documents"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]corpusDoc{}
	for _, d := range truth.Documents {
		out[d.DocType] = d
	}
	return out
}

func corpusDate(t *testing.T, s string) storage.Date {
	t.Helper()
	tm, err := time.Parse("02/01/2006", s)
	if err != nil {
		t.Fatalf("corpus date %q: %v", s, err)
	}
	return storage.Date{Year: tm.Year(), Month: tm.Month(), Day: tm.Day()}
}

// fileCorpus files doc as the fixture's result n, as the pipeline would:
// its type and name from the layouts, its issue date and validity from the
// truth, its printed fields as extracted fields (confidence 0.9, confirmed
// by verifiedBy unless that is empty). It returns the result code.
func (f *fixture) fileCorpus(t *testing.T, layouts *ocr.Layouts, doc corpusDoc, n int, verifiedBy string) string {
	t.Helper()
	l, ok := layouts.Layout(doc.DocType)
	if !ok {
		t.Fatalf("no layout %s", doc.DocType)
	}
	var verifiedAt *time.Time
	if verifiedBy != "" {
		at := time.Date(2025, 7, 18, 9, 0, 0, 0, storage.Vietnam())
		verifiedAt = &at
	}
	extracted := map[string]storage.ExtractedField{}
	for slug, v := range doc.Fields {
		extracted[slug] = storage.ExtractedField{Value: v, Confidence: 0.9, VerifiedBy: verifiedBy, VerifiedAt: verifiedAt}
	}
	code := resultCode(n)
	m := storage.Manifest{ResultCode: code, DossierCode: strings.TrimSuffix(code, "-KQ1"), ResultSeq: 1,
		ProcedureCode: testProcedure, DocType: doc.DocType, DocTypeName: l.Name,
		ConvertingAgency: storage.Agency{Code: agency, Name: "UBND phường Bến Nghé"},
		IssuedAt:         corpusDate(t, doc.Fields["issue_date"]), Origin: storage.OriginBornDigital}
	if doc.ValidUntil != nil {
		d := corpusDate(t, *doc.ValidUntil)
		m.ValidUntil = &d
	}
	pdf := []byte(fmt.Sprintf("%%PDF-1.7\n%% result %s\n%%%%EOF\n", code))
	filed, err := f.repo.File(t.Context(), storage.NewResult{PDF: pdf, HolderIDType: "CCCD", HolderID: doc.HolderID,
		HolderName: doc.Fields["full_name"], Extracted: extracted, Manifest: m, Actor: "test"})
	if err != nil {
		t.Fatalf("File %s: %v", code, err)
	}
	f.sha[code] = filed.File.SHA256
	return code
}

func (f *fixture) prefill(t *testing.T, credName, body string) (reply, prefillResponse) {
	t.Helper()
	c := f.creds[credName]
	rp := f.do(f.client(c), c, call{method: "POST", path: "/v1/prefill", body: []byte(body)})
	var resp prefillResponse
	if rp.status == http.StatusOK {
		if err := json.Unmarshal(rp.body, &resp); err != nil {
			t.Fatalf("prefill answer: %v\n%s", err, rp.body)
		}
	}
	return rp, resp
}

func (f *fixture) dossierCheck(t *testing.T, credName, body string) (reply, dossierCheckResponse) {
	t.Helper()
	c := f.creds[credName]
	rp := f.do(f.client(c), c, call{method: "POST", path: "/v1/dossier-check", body: []byte(body)})
	var resp dossierCheckResponse
	if rp.status == http.StatusOK {
		if err := json.Unmarshal(rp.body, &resp); err != nil {
			t.Fatalf("dossier-check answer: %v\n%s", err, rp.body)
		}
	}
	return rp, resp
}

// record is the audit record of a reply.
func (f *fixture) record(t *testing.T, rp reply) audit.Record {
	t.Helper()
	r, ok := f.rec.get(rp.header.Get("X-Request-Id"))
	if !ok {
		t.Fatalf("no audit record for request %s", rp.header.Get("X-Request-Id"))
	}
	return r
}

func holderBody(id, extra string) string {
	return fmt.Sprintf(`{"holder_id_type":"CCCD","holder_id":"%s"%s}`, id, extra)
}

// values lists a field's values, newest first.
func values(resp prefillResponse, field string) []string {
	var out []string
	for _, v := range resp.Fields[field].Values {
		out = append(out, v.Value)
	}
	return out
}

// sources lists the result codes behind every value of a field.
func sources(resp prefillResponse, field string) []string {
	var out []string
	for _, v := range resp.Fields[field].Values {
		for _, s := range v.Sources {
			out = append(out, s.ResultCode)
		}
	}
	return out
}

func codes(rs []audit.Returned) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ResultCode)
	}
	return out
}

func TestPrefillAndDossierCheck(t *testing.T) {
	checkPrefillAndDossierCheck(t, newFixture(t, fixtureOpts{}))
}

// TestPrefillAndDossierCheckS3 runs the same on the real repository and
// audit log in a bucket of its own on the local stack's S3 server, and
// checks that the stored audit chain holds the released fields.
func TestPrefillAndDossierCheckS3(t *testing.T) {
	b := testBucket(t, "prefill")
	f := newFixture(t, fixtureOpts{bucket: b})
	hashA := checkPrefillAndDossierCheck(t, f)
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatalf("audit Close: %v", err)
	}
	if _, err := audit.Verify(t.Context(), b); err != nil {
		t.Fatalf("audit Verify on S3: %v", err)
	}
	var released [][]string
	err := audit.Query(t.Context(), b, hashA, func(r audit.Record) error {
		if r.Endpoint == "POST /v1/prefill" && len(r.Released) > 0 {
			released = append(released, r.Released)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(released) == 0 || !slices.Contains(released[0], "full_name") {
		t.Errorf("stored audit records of the citizen's pre-fills released %v, want full_name among them", released)
	}
}

// checkPrefillAndDossierCheck files the e-results of two corpus citizens
// and asks for their data. It returns citizen A's audit hash.
func checkPrefillAndDossierCheck(t *testing.T, f *fixture) string {
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	// Citizen A (scan_0021): a marriage certificate confirmed by a reviewer
	// and a birth extract read by OCR alone, both valid.
	a := corpusDocs(t, "scan_0021.truth.json")
	idA := a["ket-hon"].HolderID
	marriage := f.fileCorpus(t, layouts, a["ket-hon"], 101, "reviewer-1")
	birth := f.fileCorpus(t, layouts, a["khai-sinh"], 102, "")
	// Later, a residence confirmation after a move: another residence,
	// and a household head only this paper names.
	moved := a["ket-hon"]
	moved.DocType = "cu-tru"
	moved.Fields = map[string]string{"full_name": a["ket-hon"].Fields["full_name"], "date_of_birth": a["ket-hon"].Fields["date_of_birth"],
		"residence": "Số 7 đường Lê Lợi, phường Hưng Bình, thành phố Vinh, tỉnh Nghệ An", "household_head": a["ket-hon"].Fields["full_name"],
		"issue_date": "10/01/2025"}
	until := "10/01/2099"
	moved.ValidUntil = &until
	residence := f.fileCorpus(t, layouts, moved, 103, "")
	// Citizen B (scan_0011): a household-business certificate, valid, and a
	// residence confirmation that expired in 2021.
	b := corpusDocs(t, "scan_0011.truth.json")
	idB := b["ho-kinh-doanh"].HolderID
	business := f.fileCorpus(t, layouts, b["ho-kinh-doanh"], 104, "")
	expired := f.fileCorpus(t, layouts, b["cu-tru"], 105, "reviewer-2")
	hashA := audit.CitizenHash(f.auditKey, "CCCD", idA)

	all := `,"fields":["full_name","date_of_birth","sex","ethnicity","residence","spouse_name","place_of_birth","household_head","business_name"]`
	t.Run("values with provenance, newest first", func(t *testing.T) {
		rp, resp := f.prefill(t, "demo-mtls", holderBody(idA, all))
		if rp.status != http.StatusOK {
			t.Fatalf("prefill: %d %s", rp.status, rp.body)
		}
		if resp.VocabularyVersion == "" || resp.EvaluatedAt.IsZero() {
			t.Errorf("answer lacks its vocabulary version or evaluation time: %s", rp.body)
		}
		name := resp.Fields["full_name"]
		if got := values(resp, "full_name"); !slices.Equal(got, []string{a["ket-hon"].Fields["full_name"]}) || name.Conflict {
			t.Errorf("full_name = %v (conflict %v), want the one printed name", got, name.Conflict)
		}
		// Three papers agree: one value, its sources newest first.
		if got := sources(resp, "full_name"); !slices.Equal(got, []string{residence, marriage, birth}) {
			t.Errorf("full_name sources = %v, want %v", got, []string{residence, marriage, birth})
		}
		src := name.Values[0].Sources[1]
		if src.DocType != "ket-hon" || src.DocTypeName != "Giấy chứng nhận kết hôn" || src.IssuedAt != "2024-02-27" ||
			!src.VerifiedByPerson || src.Confidence != 0.9 {
			t.Errorf("provenance of the marriage certificate = %+v", src)
		}
		if s := name.Values[0].Sources[2]; s.VerifiedByPerson {
			t.Errorf("the birth extract read by OCR alone is marked verified: %+v", s)
		}
		if got := values(resp, "date_of_birth"); !slices.Equal(got, []string{"1972-07-13"}) {
			t.Errorf("date_of_birth = %v, want ISO 1972-07-13", got)
		}
		// Two valid papers disagree: both values, the newer first.
		want := []string{moved.Fields["residence"], a["ket-hon"].Fields["residence"]}
		if got := values(resp, "residence"); !slices.Equal(got, want) || !resp.Fields["residence"].Conflict {
			t.Errorf("residence = %v (conflict %v), want %v in conflict", got, resp.Fields["residence"].Conflict, want)
		}
		if got := values(resp, "spouse_name"); !slices.Equal(got, []string{a["ket-hon"].Fields["spouse_full_name"]}) {
			t.Errorf("spouse_name = %v, want the marriage certificate's spouse_full_name", got)
		}
		if got := values(resp, "place_of_birth"); !slices.Equal(got, []string{a["khai-sinh"].Fields["place_of_birth"]}) {
			t.Errorf("place_of_birth = %v", got)
		}
		// ethnicity is sensitive: the demo client's scope leaves it out.
		if !slices.Equal(resp.Withheld, []string{"ethnicity"}) {
			t.Errorf("withheld = %v, want [ethnicity]", resp.Withheld)
		}
		if _, ok := resp.Fields["ethnicity"]; ok {
			t.Error("a withheld field was answered")
		}
		// Only the birth extract prints the sex; no paper names a business.
		if got := sources(resp, "sex"); !slices.Equal(got, []string{birth}) {
			t.Errorf("sex from %v, want the birth extract", got)
		}
		if !slices.Equal(resp.NotFound, []string{"business_name"}) {
			t.Errorf("not_found = %v, want [business_name]", resp.NotFound)
		}
		rec := f.record(t, rp)
		wantReleased := []string{"date_of_birth", "full_name", "household_head", "place_of_birth", "residence", "sex", "spouse_name"}
		if rec.Decision != audit.Allow || rec.CitizenHash != hashA || !slices.Equal(rec.Released, wantReleased) ||
			!slices.Equal(codes(rec.Returned), []string{residence, marriage, birth}) {
			t.Errorf("audit record = %+v, want allow for citizen A releasing %v from %v", rec, wantReleased, []string{residence, marriage, birth})
		}
		if strings.Contains(string(rp.body), idA) {
			t.Error("the answer shows the citizen ID")
		}
	})

	t.Run("golden answer at a point in time", func(t *testing.T) {
		// valid_at fixes evaluated_at: the whole answer is stable.
		rp, _ := f.prefill(t, "demo-mtls", holderBody(idA, `,"valid_at":"2025-08-01T00:00:00+07:00","procedure":"1.900001"`))
		if rp.status != http.StatusOK {
			t.Fatalf("prefill: %d %s", rp.status, rp.body)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, rp.body, "", "  "); err != nil {
			t.Fatal(err)
		}
		golden := "testdata/prefill_procedure.golden.json"
		if *updateGolden {
			if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pretty.Bytes(), want) {
			t.Errorf("answer differs from %s (go test -run TestPrefillAndDossierCheck$ -update-golden):\n%s", golden, pretty.Bytes())
		}
		// Before the move, the residence confirmation was not in force yet.
		rp, resp := f.prefill(t, "demo-mtls", holderBody(idA, `,"valid_at":"2024-12-31T12:00:00+07:00","fields":["residence","household_head"]`))
		if rp.status != http.StatusOK || !slices.Equal(sources(resp, "residence"), []string{marriage}) ||
			!slices.Equal(resp.NotFound, []string{"household_head"}) {
			t.Errorf("pre-fill at 2024-12-31 = %d %s, want only the marriage certificate's residence", rp.status, rp.body)
		}
	})

	t.Run("a client's scope", func(t *testing.T) {
		rp, resp := f.prefill(t, "prefill-narrow", holderBody(idA, `,"fields":["full_name","date_of_birth","residence"]`))
		if rp.status != http.StatusOK {
			t.Fatalf("prefill: %d %s", rp.status, rp.body)
		}
		if len(resp.Fields) != 2 || len(values(resp, "full_name")) != 1 || len(values(resp, "date_of_birth")) != 1 ||
			!slices.Equal(resp.Withheld, []string{"residence"}) {
			t.Errorf("narrow client got fields %v withheld %v, want full_name and date_of_birth, residence withheld", resp.Fields, resp.Withheld)
		}
		if strings.Contains(string(rp.body), a["ket-hon"].Fields["residence"]) {
			t.Error("the residence reached a client without it in scope")
		}
		if rec := f.record(t, rp); !slices.Equal(rec.Released, []string{"date_of_birth", "full_name"}) {
			t.Errorf("audit released %v, want [date_of_birth full_name]", rec.Released)
		}
		// No prefill_fields configured: nothing personal, nothing decrypted.
		rp, resp = f.prefill(t, "search-only", holderBody(idA, `,"fields":["full_name","residence"]`))
		if rp.status != http.StatusOK || len(resp.Fields) != 0 || !slices.Equal(resp.Withheld, []string{"full_name", "residence"}) {
			t.Errorf("client without prefill_fields: %d %s", rp.status, rp.body)
		}
		if rec := f.record(t, rp); len(rec.Released) != 0 || len(rec.Returned) != 0 || rec.CitizenHash != hashA {
			t.Errorf("audit of an answer that released nothing = %+v", rec)
		}
	})

	t.Run("by procedure", func(t *testing.T) {
		rp, resp := f.prefill(t, "demo-mtls", holderBody(idA, `,"procedure":"1.900001"`))
		if rp.status != http.StatusOK || resp.Procedure != "1.900001" {
			t.Fatalf("prefill by procedure: %d %s", rp.status, rp.body)
		}
		var got []string
		for k := range resp.Fields {
			got = append(got, k)
		}
		slices.Sort(got)
		// The form's ethnicity is withheld from this client.
		if want := []string{"date_of_birth", "full_name", "nationality", "residence", "sex", "spouse_date_of_birth", "spouse_name"}; !slices.Equal(got, want) || !slices.Equal(resp.Withheld, []string{"ethnicity"}) {
			t.Errorf("procedure 1.900001 answered %v withheld %v, want %v and ethnicity withheld", got, resp.Withheld, want)
		}
		if rec := f.record(t, rp); rec.Target != "1.900001" {
			t.Errorf("audit target %q, want the procedure", rec.Target)
		}
	})

	t.Run("dossier check", func(t *testing.T) {
		rp, resp := f.dossierCheck(t, "demo-mtls", holderBody(idA, `,"procedure":"1.900001"`))
		if rp.status != http.StatusOK {
			t.Fatalf("dossier-check: %d %s", rp.status, rp.body)
		}
		if !resp.Complete || len(resp.OnFile) != 3 || len(resp.ToSubmit) != 0 || resp.ProcedureName == "" {
			t.Fatalf("dossier-check = %s, want all three papers on file", rp.body)
		}
		for i, want := range []struct{ docType, code string }{{"ket-hon", marriage}, {"khai-sinh", birth}, {"cu-tru", residence}} {
			p := resp.OnFile[i]
			if p.DocType != want.docType || len(p.Results) != 1 || p.Results[0].ResultCode != want.code || p.Results[0].Access == "" {
				t.Errorf("on_file[%d] = %+v, want %s %s with an access handle", i, p, want.docType, want.code)
			}
		}
		// The handle reads the result, as a search's does.
		c := f.creds["demo-mtls"]
		if r := f.do(f.client(c), c, call{method: "GET", path: "/v1/results/" + marriage + "?access=" + resp.OnFile[0].Results[0].Access}); r.status != http.StatusOK {
			t.Errorf("reading an on-file result with its handle: %d %s", r.status, r.body)
		}
		rec := f.record(t, rp)
		if rec.Decision != audit.Allow || rec.CitizenHash != hashA || rec.Target != "1.900001" ||
			!slices.Equal(codes(rec.Returned), []string{marriage, birth, residence}) {
			t.Errorf("audit record = %+v", rec)
		}

		// Citizen B: the expired residence confirmation must be handed in again.
		rp, resp = f.dossierCheck(t, "demo-jwt", holderBody(idB, `,"procedure":"1.900002"`))
		if rp.status != http.StatusOK || resp.Complete || len(resp.OnFile) != 1 || resp.OnFile[0].Results[0].ResultCode != business ||
			len(resp.ToSubmit) != 1 || resp.ToSubmit[0].DocType != "cu-tru" || strings.Contains(string(rp.body), expired) {
			t.Errorf("dossier-check of citizen B = %d %s, want ho-kinh-doanh on file and cu-tru to submit", rp.status, rp.body)
		}
		// A client limited to GKS cannot say whether a GPLX is on file.
		rp, resp = f.dossierCheck(t, "limited", string(searchBody(0, `,"procedure":"1.001234"`)))
		if rp.status != http.StatusOK || len(resp.OnFile) != 1 || resp.OnFile[0].DocType != "GKS" ||
			len(resp.OnFile[0].Results) != 1 || len(resp.NotChecked) != 1 || resp.NotChecked[0].DocType != "GPLX" || resp.Complete {
			t.Errorf("dossier-check of a GKS-only client = %d %s", rp.status, rp.body)
		}
	})

	t.Run("nothing from expired results", func(t *testing.T) {
		rp, resp := f.prefill(t, "demo-mtls", holderBody(idB, `,"fields":["full_name","residence","household_head","temporary_residence","business_name"]`))
		if rp.status != http.StatusOK {
			t.Fatalf("prefill: %d %s", rp.status, rp.body)
		}
		for _, field := range []string{"full_name", "residence", "business_name"} {
			if got := sources(resp, field); !slices.Equal(got, []string{business}) {
				t.Errorf("%s from %v, want only the valid business certificate %s", field, got, business)
			}
		}
		if !slices.Equal(resp.NotFound, []string{"household_head", "temporary_residence"}) {
			t.Errorf("not_found = %v: the expired residence confirmation's fields leaked", resp.NotFound)
		}
		if strings.Contains(string(rp.body), expired) {
			t.Error("the answer names the expired result")
		}
	})

	t.Run("nothing from revoked results", func(t *testing.T) {
		c := f.creds["demo-mtls"]
		if r := f.do(f.client(c), c, call{method: "POST", path: "/v1/results/" + residence + "/revoke",
			body: []byte(`{"decision_ref":"15/QĐ-UBND","reason_code":"ISSUED_IN_ERROR"}`)}); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		rp, resp := f.prefill(t, "demo-mtls", holderBody(idA, all))
		if rp.status != http.StatusOK {
			t.Fatalf("prefill: %d %s", rp.status, rp.body)
		}
		if got := values(resp, "residence"); !slices.Equal(got, []string{a["ket-hon"].Fields["residence"]}) || resp.Fields["residence"].Conflict {
			t.Errorf("residence after the revocation = %v, want only the marriage certificate's", got)
		}
		if _, ok := resp.Fields["household_head"]; ok || strings.Contains(string(rp.body), residence) {
			t.Errorf("the revoked result still answers: %s", rp.body)
		}
		rp2, dc := f.dossierCheck(t, "demo-mtls", holderBody(idA, `,"procedure":"1.900001"`))
		if rp2.status != http.StatusOK || dc.Complete || len(dc.ToSubmit) != 1 || dc.ToSubmit[0].DocType != "cu-tru" ||
			dc.ToSubmit[0].DocTypeName != "Xác nhận thông tin về cư trú" {
			t.Errorf("dossier-check after the revocation = %d %s, want cu-tru to submit", rp2.status, rp2.body)
		}
		if rec := f.record(t, rp); slices.Contains(codes(rec.Returned), residence) {
			t.Errorf("audit names the revoked result as returned: %+v", rec.Returned)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			name, cred, path, body string
			noPurpose              bool
			status                 int
			code, rule             string
		}{
			{"fields and procedure", "demo-mtls", "/v1/prefill", holderBody(idA, `,"fields":["full_name"],"procedure":"1.900001"`), false, 400, "bad_request", "bad_body"},
			{"neither", "demo-mtls", "/v1/prefill", holderBody(idA, ""), false, 400, "bad_request", "bad_body"},
			{"unknown field", "demo-mtls", "/v1/prefill", holderBody(idA, `,"fields":["full_name","personal_id"]`), false, 400, "unknown_field", "unknown_field"},
			{"unknown procedure", "demo-mtls", "/v1/prefill", holderBody(idA, `,"procedure":"1.999999"`), false, 404, "unknown_procedure", "unknown_procedure"},
			{"malformed procedure", "demo-mtls", "/v1/dossier-check", holderBody(idA, `,"procedure":"`+idA+`"`), false, 400, "bad_procedure", "bad_procedure"},
			{"no procedure", "demo-mtls", "/v1/dossier-check", holderBody(idA, ""), false, 400, "bad_procedure", "bad_procedure"},
			{"unknown procedure check", "demo-mtls", "/v1/dossier-check", holderBody(idA, `,"procedure":"1.999999"`), false, 404, "unknown_procedure", "unknown_procedure"},
			{"bad holder", "demo-mtls", "/v1/prefill", holderBody("12345", `,"fields":["full_name"]`), false, 400, "bad_holder_id", "bad_holder_id"},
			{"unknown key", "demo-mtls", "/v1/dossier-check", holderBody(idA, `,"procedure":"1.900001","x":1`), false, 400, "bad_request", "bad_body"},
			{"no purpose", "demo-mtls", "/v1/prefill", holderBody(idA, `,"fields":["full_name"]`), true, 400, "purpose_required", "bad_purpose"},
			{"no credential", "none", "/v1/dossier-check", holderBody(idA, `,"procedure":"1.900001"`), false, 401, "unauthenticated", ""},
			{"no search scope", "archive", "/v1/prefill", holderBody(idA, `,"fields":["full_name"]`), false, 403, "forbidden", "scope_missing"},
		} {
			cr := f.creds[c.cred]
			rp := f.do(f.client(cr), cr, call{method: "POST", path: c.path, body: []byte(c.body), noPurpose: c.noPurpose})
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			json.Unmarshal(rp.body, &e)
			if rp.status != c.status || e.Error.Code != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, rp.status, rp.body, c.status, c.code)
				continue
			}
			rec := f.record(t, rp)
			if rec.Decision != audit.Deny || c.rule != "" && rec.Rule != c.rule || len(rec.Released) != 0 {
				t.Errorf("%s: audit %s/%s released %v, want deny/%s", c.name, rec.Decision, rec.Rule, rec.Released, c.rule)
			}
			if strings.Contains(string(rp.body), idA) {
				t.Errorf("%s: the error shows the citizen ID", c.name)
			}
		}
	})

	// No citizen ID or name reached a log line.
	ids := []string{idA, idB}
	names := []string{a["ket-hon"].Fields["full_name"], b["ho-kinh-doanh"].Fields["full_name"]}
	storagetest.CheckLog(t, f.logs.String(), ids, names)
	return hashA
}
