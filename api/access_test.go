package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
)

// TestResultsCannotBeHarvestedByCode: result codes follow a daily sequence,
// so a client that guesses them must get nothing; a read by code needs the
// access handle a search for that citizen returned, and its audit record
// names the citizen, so `audit query` finds it.
func TestResultsCannotBeHarvestedByCode(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.creds["demo-mtls"]
	hc := f.client(c)
	all := append(append(append([]string{}, f.gks...), f.gplx...), f.revoked)
	for _, code := range all {
		for _, suffix := range []string{"", "/pdf"} {
			got := f.do(hc, c, call{method: "GET", path: "/v1/results/" + code + suffix})
			if got.status != http.StatusForbidden || errCode(t, got.body) != "citizen_context_required" {
				t.Fatalf("%s%s by code alone: got %d %s, want 403 citizen_context_required", code, suffix, got.status, got.body)
			}
			rec, ok := f.rec.get(got.header.Get("X-Request-Id"))
			if !ok || rec.Decision != audit.Deny || rec.Rule != "citizen_context_required" {
				t.Errorf("%s%s: audit record %+v, want deny citizen_context_required", code, suffix, rec)
			}
		}
	}

	// A search for holder 0 hands out one handle per result; the handle
	// reads that result, and the read is recorded under holder 0's hash.
	got := f.do(hc, c, call{method: "POST", path: "/v1/results:search", body: searchBody(0, `,"include_history":true`)})
	var sr searchResponse
	if err := json.Unmarshal(got.body, &sr); err != nil || got.status != 200 || len(sr.Results) == 0 {
		t.Fatalf("search: %d %s", got.status, got.body)
	}
	handles := map[string]string{}
	for _, r := range sr.Results {
		if r.Access == "" || r.AccessExpiresAt == nil || r.AccessExpiresAt.Before(time.Now()) {
			t.Fatalf("result %s has no usable access handle: %+v", r.ResultCode, r)
		}
		handles[r.ResultCode] = r.Access
	}
	code := f.gks[0]
	pdf := f.do(hc, c, call{method: "GET", path: "/v1/results/" + code + "/pdf?access=" + handles[code]})
	if pdf.status != 200 || string(pdf.body) != string(f.pdfs[code]) {
		t.Fatalf("pdf with its handle: got %d", pdf.status)
	}
	holder0 := audit.CitizenHash(f.auditKey, "CCCD", holders[0].id)
	if rec, _ := f.rec.get(pdf.header.Get("X-Request-Id")); rec.CitizenHash != holder0 || rec.Decision != audit.Allow {
		t.Errorf("pdf read audit: citizen hash %q decision %q; want holder 0's hash, allow", rec.CitizenHash, rec.Decision)
	}
	if strings.Contains(string(got.body), holders[0].id) {
		t.Error("the search answer shows the holder ID")
	}

	// A handle opens only its result, for its client, until it expires.
	other := f.gplx[0]
	for name, tc := range map[string]struct {
		cred  cred
		path  string
		token string
	}{
		"another result":  {c, "/v1/results/" + other + "/pdf", handles[code]},
		"another client":  {f.creds["limited"], "/v1/results/" + code + "/pdf", handles[code]},
		"tampered handle": {c, "/v1/results/" + code + "/pdf", handles[code][:len(handles[code])-2] + "AA"},
		"expired handle": {c, "/v1/results/" + code + "/pdf", func() string {
			tok, _ := f.accessAt(DevClient, code, time.Now().Add(-accessTTL-time.Minute))
			return tok
		}()},
	} {
		got := f.do(f.client(tc.cred), tc.cred, call{method: "GET", path: tc.path + "?access=" + tc.token})
		if got.status != http.StatusForbidden || errCode(t, got.body) != "bad_access" {
			t.Errorf("%s: got %d %s, want 403 bad_access", name, got.status, got.body)
		}
	}

	// A client whose scope allows reading by code reads without a handle;
	// its read is still recorded under the holder the manifest names.
	a := f.creds["archive"]
	byCode := f.do(f.client(a), a, call{method: "GET", path: "/v1/results/" + f.gks[1] + "/pdf"})
	if byCode.status != 200 {
		t.Fatalf("read_by_code client: got %d %s", byCode.status, byCode.body)
	}
	holder1 := audit.CitizenHash(f.auditKey, "CCCD", holders[1].id)
	if rec, _ := f.rec.get(byCode.header.Get("X-Request-Id")); rec.CitizenHash != holder1 {
		t.Errorf("read by code: audit citizen hash %q, want holder 1's", rec.CitizenHash)
	}
	// Status (no personal data, for checking a presented copy) stays
	// readable by code, and is recorded under the holder too.
	st := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gks[1] + "/status"})
	if rec, _ := f.rec.get(st.header.Get("X-Request-Id")); st.status != 200 || rec.CitizenHash != holder1 {
		t.Errorf("status by code: %d, audit hash %q; want 200 under holder 1", st.status, rec.CitizenHash)
	}
}

func TestAccessHandleRoundTrip(t *testing.T) {
	k := newAccessKeys([]byte(strings.Repeat("k", 32)))
	hash := audit.CitizenHash([]byte(strings.Repeat("a", 32)), "CCCD", "001099012345")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, exp := k.issue("client-a", "000.00.31.H29-250718-0001-KQ1", hash, now)
	if !exp.Equal(now.Add(accessTTL)) || len(tok) > 100 || strings.Contains(tok, "001099012345") {
		t.Fatalf("token %q (len %d), expiry %v", tok, len(tok), exp)
	}
	if got, err := k.check(tok, "client-a", "000.00.31.H29-250718-0001-KQ1", now.Add(accessTTL)); err != nil || got != hash {
		t.Errorf("check at expiry = %q, %v; want the hash", got, err)
	}
	for name, tc := range map[string]struct {
		tok, client, code string
		at                time.Time
	}{
		"after expiry":  {tok, "client-a", "000.00.31.H29-250718-0001-KQ1", now.Add(accessTTL + time.Second)},
		"other client":  {tok, "client-b", "000.00.31.H29-250718-0001-KQ1", now},
		"other code":    {tok, "client-a", "000.00.31.H29-250718-0002-KQ1", now},
		"truncated":     {tok[:20], "client-a", "000.00.31.H29-250718-0001-KQ1", now},
		"not base64url": {"!!" + tok, "client-a", "000.00.31.H29-250718-0001-KQ1", now},
		"other key": {func() string {
			t2, _ := newAccessKeys([]byte(strings.Repeat("x", 32))).issue("client-a", "000.00.31.H29-250718-0001-KQ1", hash, now)
			return t2
		}(), "client-a", "000.00.31.H29-250718-0001-KQ1", now},
	} {
		if _, err := k.check(tc.tok, tc.client, tc.code, tc.at); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
