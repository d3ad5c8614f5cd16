package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/internal/openapicheck"
	"sohoa/signing"
	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// routes lists every protected route with a request that succeeds for the
// all-scopes demo client.
func (f *fixture) protectedCalls() map[string]call {
	code := f.gks[0]
	return map[string]call{
		"search":   {method: "POST", path: "/v1/results:search", body: searchBody(0, "")},
		"metadata": {method: "GET", path: "/v1/results/" + code, access: true},
		"pdf":      {method: "GET", path: "/v1/results/" + code + "/pdf", access: true},
		"data":     {method: "GET", path: "/v1/results/" + code + "/data", access: true},
		"status":   {method: "GET", path: "/v1/results/" + code + "/status"},
		"verify":   {method: "POST", path: "/v1/verify", body: []byte(`{"sha256":"` + f.sha[code] + `"}`)},
		"revoke":   {method: "POST", path: "/v1/results/" + f.gks[1] + "/revoke", body: []byte(`{"decision_ref":"QD-77/2025"}`)},
	}
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	return e.Error.Code
}

func TestAuthTableEveryRoute(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	hcs := map[string]*http.Client{}
	for name, c := range f.creds {
		hcs[name] = f.client(c)
	}
	type want struct {
		status int
		rule   string
	}
	deny401 := map[string]string{
		"none": "no_credential", "wrong-ca": "cert_untrusted", "expired-cert": "cert_expired",
		"alg-none": "jwt_alg", "alg-hs256": "jwt_alg", "wrong-aud": "jwt_audience", "expired-jwt": "jwt_expired",
		"alg-swap": "jwt_alg", "mismatch": "credential_mismatch",
	}
	scopeOf := map[string]string{"search": "search", "metadata": "search", "pdf": "read_pdf", "data": "read_pdf",
		"status": "status", "verify": "verify", "revoke": "revoke"}
	routes := []string{"search", "metadata", "pdf", "data", "status", "verify", "revoke"}
	for _, route := range routes {
		for _, credName := range []string{"none", "wrong-ca", "expired-cert", "alg-none", "alg-hs256", "wrong-aud",
			"expired-jwt", "alg-swap", "mismatch", "search-only", "limited", "demo-jwt", "demo-mtls"} {
			var w want
			switch {
			case deny401[credName] != "":
				w = want{401, deny401[credName]}
			case credName == "search-only" && (route == "pdf" || route == "data" || route == "verify" || route == "revoke"):
				w = want{403, "scope_missing"}
			case credName == "limited" && route == "revoke":
				w = want{403, "scope_missing"}
			default:
				w = want{200, "scope:" + scopeOf[route]}
			}
			t.Run(route+"/"+credName, func(t *testing.T) {
				k := f.protectedCalls()[route]
				if route == "revoke" && w.status == 200 {
					k.path = "/v1/results/" + map[string]string{"demo-jwt": f.gks[1], "demo-mtls": f.gplx[0]}[credName] + "/revoke"
				}
				got := f.do(hcs[credName], f.creds[credName], k)
				if got.status != w.status {
					t.Fatalf("got status %d (%s), want %d", got.status, got.body, w.status)
				}
				if w.status >= 400 && errCode(t, got.body) == "" {
					t.Errorf("got no error code in %s", got.body)
				}
				rec, ok := f.rec.get(got.header.Get("X-Request-Id"))
				if !ok {
					t.Fatalf("no audit record for request %q", got.header.Get("X-Request-Id"))
				}
				if rec.Status != w.status || rec.Rule != w.rule {
					t.Errorf("got audit status %d rule %q, want %d %q", rec.Status, rec.Rule, w.status, w.rule)
				}
				wantDecision := audit.Allow
				if w.status >= 400 {
					wantDecision = audit.Deny
				}
				if rec.Decision != wantDecision {
					t.Errorf("got decision %q, want %q", rec.Decision, wantDecision)
				}
				if credName == "wrong-ca" && rec.ClientID != "" {
					t.Errorf("got client %q for an untrusted certificate, want none", rec.ClientID)
				}
				if f.creds[credName].cert != nil && rec.CertSHA256 == "" {
					t.Error("got no certificate fingerprint in the audit record")
				}
				if route == "search" && w.status == 200 && rec.CitizenHash != audit.CitizenHash(f.auditKey, "CCCD", holders[0].id) {
					t.Errorf("got citizen hash %q, want the K_audit HMAC", rec.CitizenHash)
				}
				if w.status == 401 && got.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
}

func TestDocTypeLimitLooksLikeUnknown(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.creds["limited"]
	hc := f.client(c)
	unknown := "000.00.31.H29-250718-0999-KQ1"
	for _, suffix := range []string{"", "/pdf", "/status"} {
		hidden := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gplx[0] + suffix, access: suffix != "/status"})
		missing := f.do(hc, c, call{method: "GET", path: "/v1/results/" + unknown + suffix, access: suffix != "/status"})
		if hidden.status != 404 || missing.status != 404 {
			t.Fatalf("%s: got %d and %d, want 404 and 404", suffix, hidden.status, missing.status)
		}
		if !bytes.Equal(hidden.body, missing.body) {
			t.Errorf("%s: bodies differ: %s vs %s", suffix, hidden.body, missing.body)
		}
		rec, _ := f.rec.get(hidden.header.Get("X-Request-Id"))
		if rec.Rule != "doc_type_not_allowed" || rec.Decision != audit.Deny {
			t.Errorf("%s: got audit %s/%s, want deny/doc_type_not_allowed", suffix, rec.Decision, rec.Rule)
		}
	}
	// Search silently drops hidden types; asking for one explicitly is 403.
	got := f.do(hc, c, call{method: "POST", path: "/v1/results:search", body: searchBody(0, "")})
	var sr searchResponse
	if err := json.Unmarshal(got.body, &sr); err != nil || got.status != 200 {
		t.Fatalf("search: got %d %s", got.status, got.body)
	}
	for _, r := range sr.Results {
		if r.DocType != "GKS" {
			t.Errorf("got result of type %s for a GKS-only client", r.DocType)
		}
	}
	if len(sr.Results) != 1 {
		t.Errorf("got %d results, want 1 (holder 0's valid GKS)", len(sr.Results))
	}
	got = f.do(hc, c, call{method: "POST", path: "/v1/results:search", body: searchBody(0, `,"doc_type_code":"GPLX"`)})
	if got.status != 403 {
		t.Errorf("explicit hidden doc type: got %d, want 403", got.status)
	}
	// Verify of a hidden result's hash answers like an unknown hash.
	got = f.do(hc, c, call{method: "POST", path: "/v1/verify", body: []byte(`{"sha256":"` + f.sha[f.gplx[0]] + `"}`)})
	if got.status != 200 || !bytes.Contains(got.body, []byte(`"matched":false`)) {
		t.Errorf("verify hidden: got %d %s, want 200 matched=false", got.status, got.body)
	}
}

func TestEndpoints(t *testing.T) {
	// The fixture's PDFs are not signed: this verifier says "valid" and
	// reads the result code the fixture wrote, unless the file was tampered.
	f := newFixture(t, fixtureOpts{verifyPDF: func(_ context.Context, pdf []byte) (signing.Verdict, error) {
		if bytes.Contains(pdf, []byte("tampered")) {
			return signing.Verdict{Reasons: []string{"bad signature"}}, fmt.Errorf("verify: %w", signing.ErrInvalid)
		}
		_, code, _ := bytes.Cut(pdf, []byte("% result "))
		code, _, _ = bytes.Cut(code, []byte("\n"))
		return signing.Verdict{Valid: true, ResultCode: string(code)}, nil
	}})
	c := f.creds["demo-mtls"]
	hc := f.client(c)

	t.Run("search valid only and with history", func(t *testing.T) {
		for _, tc := range []struct {
			extra string
			want  int
		}{{"", 2}, {`,"include_history":true`, 3}, {`,"doc_type_code":"GPLX"`, 1}, {`,"valid_at":"2025-07-01T00:00:00+07:00"`, 0}} {
			got := f.do(hc, c, call{method: "POST", path: "/v1/results:search", body: searchBody(0, tc.extra)})
			var sr searchResponse
			if err := json.Unmarshal(got.body, &sr); err != nil || got.status != 200 {
				t.Fatalf("%s: got %d %s", tc.extra, got.status, got.body)
			}
			if len(sr.Results) != tc.want {
				t.Errorf("%s: got %d results, want %d", tc.extra, len(sr.Results), tc.want)
			}
			if got.header.Get("Cache-Control") != "no-store" {
				t.Errorf("got Cache-Control %q, want no-store", got.header.Get("Cache-Control"))
			}
		}
	})
	t.Run("metadata of a revoked result", func(t *testing.T) {
		got := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.revoked, access: true})
		var rv metadataView
		if err := json.Unmarshal(got.body, &rv); err != nil || got.status != 200 {
			t.Fatalf("got %d %s", got.status, got.body)
		}
		if rv.Validity.Valid || rv.Validity.Reason != "REVOKED" || rv.Validity.EvaluatedAt.IsZero() {
			t.Errorf("got validity %+v, want invalid REVOKED with evaluated_at", rv.Validity)
		}
		// Issued and revoked, both waiting for the Kho (none is configured).
		if s := rv.SyncState; s.State != "pending" || s.Events != 2 || s.Pending != 2 || s.LastAttemptAt != nil || s.SyncedAt != nil {
			t.Errorf("got sync_state %+v, want pending with 2 events, never tried", s)
		}
		if !bytes.Contains(got.body, []byte(`"sync_state":{"state":"pending","events":2,"delivered":0,"pending":2,"dead":0,"last_attempt_at":null,"synced_at":null}`)) {
			t.Errorf("metadata JSON: %s", got.body)
		}
		for _, hit := range storagetest.FindPersonal(string(got.body), []string{holders[0].id}, []string{holders[0].name}) {
			t.Errorf("metadata shows %s", hit)
		}
	})
	t.Run("pdf with ETag and conditional GET", func(t *testing.T) {
		code := f.gks[0]
		got := f.do(hc, c, call{method: "GET", path: "/v1/results/" + code + "/pdf", access: true})
		if got.status != 200 || !bytes.Equal(got.body, f.pdfs[code]) {
			t.Fatalf("got %d, %d bytes; want 200 and the stored PDF", got.status, len(got.body))
		}
		if et := got.header.Get("ETag"); et != `"`+f.sha[code]+`"` {
			t.Errorf("got ETag %s, want the sha256", et)
		}
		tok, _ := newAccessKeys(f.auditKey).issue(c.client, code, audit.CitizenHash(f.auditKey, "CCCD", holders[0].id), time.Now())
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/results/"+code+"/pdf?access="+tok, nil)
		req.Header.Set("X-Purpose-Procedure", testProcedure)
		req.Header.Set("X-Purpose-Dossier", testDossier)
		req.Header.Set("If-None-Match", got.header.Get("ETag"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: got %d, want 304", resp.StatusCode)
		}
	})
	t.Run("status is cacheable", func(t *testing.T) {
		got := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"})
		if got.status != 200 || got.header.Get("Cache-Control") != "private, max-age=300" {
			t.Errorf("got %d Cache-Control %q", got.status, got.header.Get("Cache-Control"))
		}
	})
	t.Run("verify by upload", func(t *testing.T) {
		code := f.gks[0]
		got := f.do(hc, c, call{method: "POST", path: "/v1/verify", ctype: "application/pdf", body: f.pdfs[code]})
		var vr verifyResponse
		if err := json.Unmarshal(got.body, &vr); err != nil || got.status != 200 {
			t.Fatalf("got %d %s", got.status, got.body)
		}
		if !vr.Integrity.Matched || !vr.Integrity.Identical || vr.Integrity.ResultCode != code || !vr.Signature.Valid || vr.Status == nil || !vr.Status.Valid ||
			vr.ConvertingAgency == nil || *vr.ConvertingAgency != (agencyView{agency, agencyName}) || vr.IssuingAuthority == nil || vr.IssuingAuthority.Name != authorityName {
			t.Errorf("got %+v, want matched, identical, valid signature, valid status, converting agency, issuing authority", vr)
		}
		bad := append(bytes.Clone(f.pdfs[code]), []byte("tampered")...)
		got = f.do(hc, c, call{method: "POST", path: "/v1/verify", ctype: "application/pdf", body: bad})
		vr = verifyResponse{}
		json.Unmarshal(got.body, &vr)
		sum := sha256.Sum256(bad)
		if vr.Integrity.Matched || vr.Signature.Valid || vr.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("tampered: got %+v, want unmatched, invalid signature", vr)
		}
		got = f.do(hc, c, call{method: "POST", path: "/v1/verify", ctype: "text/plain", body: []byte("x")})
		if got.status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: got %d, want 415", got.status)
		}
	})
	t.Run("revoke needs a decision and is final", func(t *testing.T) {
		code := f.gplx[0]
		got := f.do(hc, c, call{method: "POST", path: "/v1/results/" + code + "/revoke", body: []byte(`{}`)})
		if got.status != 400 || errCode(t, got.body) != "decision_ref_required" {
			t.Errorf("no decision_ref: got %d %s", got.status, got.body)
		}
		got = f.do(hc, c, call{method: "POST", path: "/v1/results/" + code + "/revoke", body: []byte(`{"decision_ref":"QD-1/2025","reason_code":"FRAUD"}`)})
		if got.status != 200 || !bytes.Contains(got.body, []byte(`"reason":"REVOKED"`)) {
			t.Errorf("revoke: got %d %s", got.status, got.body)
		}
		got = f.do(hc, c, call{method: "POST", path: "/v1/results/" + f.revoked + "/revoke", body: []byte(`{"decision_ref":"QD-2/2025"}`)})
		if got.status != 409 {
			t.Errorf("revoke revoked: got %d %s, want 409", got.status, got.body)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		tests := []struct {
			name string
			k    call
			want int
			code string
		}{
			{"no purpose", call{method: "GET", path: "/v1/results/" + f.gks[0], noPurpose: true}, 400, "purpose_required"},
			{"bad holder id", call{method: "POST", path: "/v1/results:search", body: []byte(`{"holder_id_type":"CCCD","holder_id":"12345"}`)}, 400, "bad_holder_id"},
			{"unknown field", call{method: "POST", path: "/v1/results:search", body: []byte(`{"holder_id_type":"CCCD","holder_id":"001199012345","x":1}`)}, 400, "bad_request"},
			{"huge body", call{method: "POST", path: "/v1/results:search", body: []byte(`{"holder_id_type":"CCCD","holder_id":"` + strings.Repeat("1", 20000) + `"}`)}, 413, "body_too_large"},
			{"bad valid_at", call{method: "GET", path: "/v1/results/" + f.gks[0] + "?valid_at=yesterday"}, 400, "bad_valid_at"},
			{"unknown route", call{method: "GET", path: "/v1/nothing"}, 404, "not_found"},
			{"wrong method", call{method: "DELETE", path: "/v1/results/" + f.gks[0]}, 405, "method_not_allowed"},
			{"malformed code", call{method: "GET", path: "/v1/results/001199012345"}, 404, "not_found"},
		}
		for _, tc := range tests {
			got := f.do(hc, c, tc.k)
			if got.status != tc.want || errCode(t, got.body) != tc.code {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, got.status, got.body, tc.want, tc.code)
			}
			if _, ok := f.rec.get(got.header.Get("X-Request-Id")); !ok {
				t.Errorf("%s: no audit record", tc.name)
			}
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		sc := f.creds["slow"]
		shc := f.client(sc)
		var codes []int
		var retry string
		for range 4 {
			got := f.do(shc, sc, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"})
			codes = append(codes, got.status)
			if got.status == 429 {
				retry = got.header.Get("Retry-After")
			}
		}
		if codes[0] != 200 || codes[1] != 200 || codes[3] != 429 || retry == "" {
			t.Errorf("got statuses %v Retry-After %q, want 200 200 … 429 with Retry-After", codes, retry)
		}
		// Another client is unaffected.
		if got := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"}); got.status != 200 {
			t.Errorf("other client: got %d, want 200", got.status)
		}
	})
	t.Run("public routes", func(t *testing.T) {
		pub := f.client(cred{})
		got := f.do(pub, cred{}, call{method: "GET", path: "/v1/openapi.json", noPurpose: true})
		if got.status != 200 || !bytes.Equal(got.body, OpenAPI()) {
			t.Errorf("openapi: got %d", got.status)
		}
		got = f.do(pub, cred{}, call{method: "GET", path: "/healthz", noPurpose: true})
		if got.status != 200 {
			t.Errorf("healthz: got %d", got.status)
		}
	})
}

func TestCorruptPDFIs502(t *testing.T) {
	b := mem.New()
	f := newFixture(t, fixtureOpts{bucket: b})
	code := f.gks[0]
	m, err := f.repo.Get(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Tamper(m.File.ObjectKey, func(p []byte) []byte { p[3] ^= 1; return p }); err != nil {
		t.Fatal(err)
	}
	c := f.creds["demo-mtls"]
	got := f.do(f.client(c), c, call{method: "GET", path: "/v1/results/" + code + "/pdf", access: true})
	if got.status != http.StatusBadGateway || errCode(t, got.body) != "integrity_failure" {
		t.Fatalf("got %d %s, want 502 integrity_failure", got.status, got.body)
	}
	if bytes.Contains(got.body, []byte("%PDF")) {
		t.Error("corrupt bytes were sent")
	}
}

func TestQRPage(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	pub := f.client(cred{})
	code := f.gks[0]
	tok := signing.VerifyToken(f.qrKey, code)
	if len(tok) != 12 || tok != signing.VerifyToken(f.qrKey, code) || tok == signing.VerifyToken(f.qrKey, f.gks[1]) {
		t.Fatalf("QRToken %q: want 12 stable characters differing per code", tok)
	}
	got := f.do(pub, cred{}, call{method: "GET", path: "/v/" + code + "?k=" + tok, noPurpose: true})
	page := string(got.body)
	// The hash the stamp shows (signing.HashDisplay of the source scan's
	// SHA-256, same label), both agencies under their own names, and the
	// conversion time as the stamp writes it.
	scan := signing.HashDisplay(storage.SHA256Hex([]byte("scan of " + code)))
	for _, want := range []string{"Còn hiệu lực", signing.HashLabel, scan, "Cơ quan cấp bản gốc</dt><dd>" + authorityName,
		"Cơ quan chuyển đổi</dt><dd>" + agencyName + " (" + agency + ")", "09 giờ 41 phút, ngày 18/07/2025"} {
		if got.status != 200 || !strings.Contains(page, want) {
			t.Fatalf("got %d, want a page with %q: %s", got.status, want, page)
		}
	}
	if strings.Contains(page, f.sha[code][:16]) {
		t.Errorf("page shows the PDF's hash, not the stamp's (the source scan's)")
	}
	for _, hit := range storagetest.FindPersonal(page, []string{holders[0].id}, []string{holders[0].name}) {
		t.Errorf("page shows %s", hit)
	}
	if strings.Contains(page, f.sha[code]) {
		t.Errorf("page shows the full SHA-256 of the PDF")
	}
	if got.header.Get("Cache-Control") != "no-store" {
		t.Errorf("got Cache-Control %q", got.header.Get("Cache-Control"))
	}
	if up := f.do(pub, cred{}, call{method: "GET", path: "/v/" + code + "?k=" + strings.ToUpper(tok), noPurpose: true}); up.status != 200 {
		t.Errorf("upper-case token: got %d, want 200", up.status)
	}
	revoked := f.do(pub, cred{}, call{method: "GET", path: "/v/" + f.revoked + "?k=" + signing.VerifyToken(f.qrKey, f.revoked), noPurpose: true})
	if !strings.Contains(string(revoked.body), "Đã bị thu hồi") {
		t.Errorf("revoked page: %s", revoked.body)
	}
	var bodies [][]byte
	for _, p := range []string{"/v/" + code + "?k=aaaaaaaaaaaa", "/v/" + code, "/v/000.00.31.H29-250718-0999-KQ1?k=" + tok, "/v/nonsense?k=" + tok} {
		got := f.do(pub, cred{}, call{method: "GET", path: p, noPurpose: true})
		if got.status != 404 {
			t.Errorf("%s: got %d, want 404", p, got.status)
		}
		bodies = append(bodies, got.body)
		rec, ok := f.rec.get(got.header.Get("X-Request-Id"))
		if !ok || rec.Decision != audit.Deny {
			t.Errorf("%s: got audit %+v, want a deny record", p, rec)
		}
	}
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Errorf("404 pages differ:\n%s\n%s", b, bodies[0])
		}
	}
}

type failingAuditor struct{}

func (failingAuditor) Append(context.Context, audit.Record) (audit.Record, error) {
	return audit.Record{}, audit.ErrBacklog
}

// TestAuditFailureFailsClosed: when the record cannot be stored, no data
// leaves the server.
func TestAuditFailureFailsClosed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cs, err := LoadClients(f.dev.ClientsJSON)
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := signing.LoadCertPool(f.dev.ClientCA)
	inner, err := New(Options{Repo: f.repo, Clients: cs, ClientCAs: pool, Audit: failingAuditor{}, AuditKey: f.auditKey, QRKey: f.qrKey})
	if err != nil {
		t.Fatal(err)
	}
	h := openapicheck.Handler(t, openapicheck.MustParse(t, OpenAPI()), "reuse", inner)
	tok, err := DevToken(f.dev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/results:search", bytes.NewReader(searchBody(0, "")))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Purpose-Procedure", testProcedure)
	req.Header.Set("X-Purpose-Dossier", testDossier)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusServiceUnavailable || errCode(t, rr.Body.Bytes()) != "audit_unavailable" {
		t.Fatalf("got %d %s, want 503 audit_unavailable", rr.Code, rr.Body)
	}
	if strings.Contains(rr.Body.String(), f.gks[0]) {
		t.Error("result data sent without an audit record")
	}
}

func TestFailedAuthIsRateLimitedPerIP(t *testing.T) {
	f := newFixture(t, fixtureOpts{authFail: RateLimit{RPS: 0.001, Burst: 3}})
	none := f.client(cred{})
	var got []int
	for range 5 {
		got = append(got, f.do(none, cred{}, call{method: "GET", path: "/v1/results/" + f.gks[0]}).status)
	}
	if want := []int{401, 401, 401, 429, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// A valid client from the same IP is unaffected.
	c := f.creds["demo-mtls"]
	if r := f.do(f.client(c), c, call{method: "GET", path: "/v1/results/" + f.gks[0], access: true}); r.status != 200 {
		t.Errorf("valid client: got %d, want 200", r.status)
	}
}
