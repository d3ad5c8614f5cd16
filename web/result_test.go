package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/internal/testenv"
	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

var testAuditKey = bytes.Repeat([]byte{0x3c}, 32)

// newRepoEnv is newEnv with a repository on the app's clock (results are
// filed and changed at the time the pages judge them by) and its bucket.
func newRepoEnv(t *testing.T) (*env, *mem.Bucket) {
	t.Helper()
	clk := newClock()
	b := mem.New()
	repo, err := storage.New(b, storage.Options{Keys: storagetest.Keys(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: clk, repo: repo, store: newMemStore(clk.Now), audit: &memAudit{}, logs: &testenv.Buffer{}}
	e.accts = newAccounts(t, repo, e.store, clk.Now)
	return e, b
}

// repoApp is the app with the repository, the audit key and the agency.
func (e *env) repoApp() *httptest.Server {
	return e.app(func(o *Options) {
		o.Repo, o.AuditKey, o.AgencyCode = e.repo, testAuditKey, storagetest.Agency
		o.Procedures = map[string]string{"GKS": "1.001234"}
	})
}

// file files fixture result i of holder h, issued today.
func (e *env) file(i, h int, mod ...func(*storage.NewResult)) storage.Manifest {
	e.t.Helper()
	res := storagetest.Result(i, h, e.clk.Now())
	for _, f := range mod {
		f(&res)
	}
	m, err := e.repo.File(context.Background(), res)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// signedIn signs a new user of role in and returns the browser and a page
// with the session's CSRF token.
func (e *env) signedIn(srv *httptest.Server, name string, role Role) (*browser, string) {
	e.t.Helper()
	pw := e.user(name, role)
	b := newBrowser(e.t, srv)
	if resp, _ := b.signin(name, pw); resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
	}
	_, page := b.get("/")
	return b, csrf(e.t, page)
}

var linkRe = regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)

// checkNoIDInURLs fails if a link, form action or redirect carries id.
func checkNoIDInURLs(t *testing.T, id string, resp *http.Response, body string) {
	t.Helper()
	if strings.Contains(resp.Header.Get("Location"), id) {
		t.Errorf("redirect %s carries the citizen ID", resp.Header.Get("Location"))
	}
	for _, m := range linkRe.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], id) {
			t.Errorf("link %s carries the citizen ID", m[1])
		}
	}
}

func TestResultsFindAndOpen(t *testing.T) {
	e, _ := newRepoEnv(t)
	srv := e.repoApp()
	r1, r2, r3 := e.file(1, 1), e.file(2, 1), e.file(3, 2)
	b, tok := e.signedIn(srv, "quanly1", RoleSupervisor)
	ctx := context.Background()

	resp, page := b.get("/results")
	wantStatus(t, "search page", resp, 200)
	if !strings.Contains(page, `id="search-form"`) || !strings.Contains(page, `method="post" action="/results"`) {
		t.Error("the search page has no POST search form")
	}

	// A result code opens the result.
	resp, _ = b.post("/results", url.Values{"csrf": {tok}, "q": {" " + strings.ToLower(r1.ResultCode) + " "}, "kind": {"auto"}})
	wantStatus(t, "search by result code", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/results/"+r1.ResultCode {
		t.Fatalf("search by result code goes to %q", loc)
	}
	resp, page = b.get("/results/" + r1.ResultCode)
	wantStatus(t, "result page", resp, 200)
	for _, want := range []string{storagetest.HolderName(1), storagetest.HolderID(1), `id="result-status"`, `data-status="active"`, `data-valid="true"`,
		`id="revoke"`, `id="suspend"`, `id="supersede"`, `id="open-pdf"`, `href="/results/` + r1.ResultCode + `/pdf"`, "Giấy khai sinh", r1.DossierCode, "Còn hiệu lực", "Cấp kết quả"} {
		if !strings.Contains(page, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="reinstate"`) {
		t.Error("an active result offers reinstatement")
	}

	// A dossier code lists its results.
	resp, page = b.post("/results", url.Values{"csrf": {tok}, "q": {r1.DossierCode}})
	wantStatus(t, "search by dossier code", resp, 200)
	if !strings.Contains(page, `data-code="`+r1.ResultCode+`"`) || strings.Contains(page, `data-code="`+r2.ResultCode+`"`) {
		t.Error("dossier search does not list exactly the dossier's result")
	}

	// A citizen ID lists the holder's results, never putting the ID in a
	// URL; results are linked by code.
	id := storagetest.HolderID(1)
	resp, page = b.post("/results", url.Values{"csrf": {tok}, "q": {id}})
	wantStatus(t, "search by citizen ID", resp, 200)
	if !strings.Contains(page, `href="/results/`+r1.ResultCode+`"`) || !strings.Contains(page, `data-code="`+r2.ResultCode+`"`) || strings.Contains(page, r3.ResultCode) {
		t.Error("citizen search does not list exactly the holder's results")
	}
	if strings.Contains(page, `value="`+id+`"`) {
		t.Error("the citizen ID is echoed into the form")
	}
	checkNoIDInURLs(t, id, resp, page)
	resp, page = b.post("/results", url.Values{"csrf": {tok}, "q": {storagetest.HolderID(9)}})
	if resp.StatusCode != 200 || !strings.Contains(page, "Không tìm thấy kết quả điện tử nào") {
		t.Errorf("search of a holder without results: %d", resp.StatusCode)
	}
	resp, page = b.post("/results", url.Values{"csrf": {tok}, "q": {"không phải mã"}})
	if resp.StatusCode != 400 || !strings.Contains(page, "Không nhận ra nội dung cần tìm") {
		t.Errorf("search of nonsense: %d", resp.StatusCode)
	}
	resp, page = b.post("/results", url.Values{"csrf": {tok}, "q": {"000.00.31.H29-260302-0099-KQ1"}})
	if resp.StatusCode != 404 || !strings.Contains(page, "Không có kết quả nào mang mã") {
		t.Errorf("search of an unknown result code: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/results/000.00.31.H29-260302-0099-KQ1"); resp.StatusCode != 404 {
		t.Errorf("unknown result page: %d", resp.StatusCode)
	}

	// The signed PDF opens in the browser.
	resp, pdf := b.get("/results/" + r1.ResultCode + "/pdf")
	wantStatus(t, "pdf", resp, 200)
	rc, _, err := e.repo.OpenPDF(ctx, r1.ResultCode)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	want.ReadFrom(rc)
	if pdf != want.String() {
		t.Error("the PDF served is not the stored one")
	}
	h := resp.Header
	if h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(h.Get("Content-Disposition"), "inline") ||
		h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("pdf headers %v", h)
	}

	// Every read is audited with the result and the holder's hash.
	hash := audit.CitizenHash(testAuditKey, storage.IDTypeCCCD, id)
	got := map[string]int{}
	for _, r := range e.audit.records() {
		got[r.Rule]++
		switch r.Rule {
		case "result_viewed", "result_pdf_opened":
			if r.ResultCode != r1.ResultCode || r.CitizenHash != hash || len(r.Returned) != 1 || r.Decision != audit.Allow || r.Staff == "" {
				t.Errorf("read record %+v", r)
			}
		case "results_searched":
			if strings.HasPrefix(r.Target, "holder:") && r.Status == 200 && len(r.Returned) == 2 && r.CitizenHash != hash {
				t.Errorf("citizen search record %+v: want the holder's hash", r)
			}
		}
	}
	if got["result_viewed"] != 1 || got["result_pdf_opened"] != 1 || got["results_searched"] != 4 {
		t.Errorf("audit rules %v", got)
	}
	checkNoPersonalData(t, e, []string{id, storagetest.HolderID(9)}, []string{storagetest.HolderName(1)})
}

// checkNoPersonalData: no audit record and no log line holds an ID or a
// name.
func checkNoPersonalData(t *testing.T, e *env, ids, names []string) {
	t.Helper()
	var lines []string
	for _, r := range e.audit.records() {
		j, _ := json.Marshal(r)
		lines = append(lines, string(j))
	}
	recs := strings.Join(lines, "\n")
	storagetest.CheckLog(t, recs, ids, names)
	storagetest.CheckLog(t, e.logs.String(), ids, names)
	for _, id := range ids {
		if strings.Contains(recs, id) || strings.Contains(e.logs.String(), id) {
			t.Errorf("the audit records or logs show %s", id)
		}
	}
}

func TestResultValidityChanges(t *testing.T) {
	e, _ := newRepoEnv(t)
	srv := e.repoApp()
	r1, r2, r3 := e.file(1, 1), e.file(2, 1), e.file(3, 2)
	foreign := e.file(4, 3, func(n *storage.NewResult) { n.Manifest.ConvertingAgency.Code = "000.00.99.H99" })
	b, tok := e.signedIn(srv, "quanly1", RoleSupervisor)
	ctx := context.Background()
	act := func(code, action string, form url.Values) (*http.Response, string) {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("csrf", tok)
		e.clk.Add(time.Minute)
		return b.post("/results/"+code+"/"+action, form)
	}
	status := func(code string) string {
		t.Helper()
		v, err := e.repo.Validity(ctx, code, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return v.Status
	}

	// Refusals, in Vietnamese, change nothing.
	for _, tc := range []struct {
		form   url.Values
		status int
		text   string
	}{
		{url.Values{"reason": {"ISSUED_IN_ERROR"}}, 400, "Hãy nhập số quyết định"},
		{url.Values{"decision": {"QĐ " + storagetest.HolderID(1)}, "reason": {"ISSUED_IN_ERROR"}}, 400, "dãy từ 9 chữ số"},
		{url.Values{"decision": {"<b>12</b>"}, "reason": {"ISSUED_IN_ERROR"}}, 400, "chỉ gồm chữ, số"},
		{url.Values{"decision": {"12/QĐ-UBND"}}, 400, "Hãy chọn lý do"},
		{url.Values{"decision": {"12/QĐ-UBND"}, "reason": {"VERIFIED"}}, 400, "Hãy chọn lý do"},
	} {
		resp, page := act(r1.ResultCode, "revoke", tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(page, tc.text) {
			t.Errorf("revoke %v: %d, want %d with %q", tc.form, resp.StatusCode, tc.status, tc.text)
		}
	}
	if resp, _ := b.post("/results/"+r1.ResultCode+"/revoke", url.Values{"decision": {"12/QĐ-UBND"}, "reason": {"ISSUED_IN_ERROR"}}); resp.StatusCode != 403 {
		t.Errorf("revoke without the CSRF token: %d", resp.StatusCode)
	}
	if resp, _ := act(r1.ResultCode, "destroy", url.Values{"decision": {"1"}}); resp.StatusCode != 404 {
		t.Errorf("unknown action: %d", resp.StatusCode)
	}
	if s := status(r1.ResultCode); s != storage.StatusActive {
		t.Fatalf("after refusals r1 is %s", s)
	}

	// Suspend, reinstate, revoke.
	resp, _ := act(r1.ResultCode, "suspend", url.Values{"decision": {"12/QĐ-UBND"}, "reason": {"UNDER_VERIFICATION"}})
	wantStatus(t, "suspend", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/results/"+r1.ResultCode+"?done=suspend" {
		t.Errorf("after suspend: %s", loc)
	}
	_, page := b.get(resp.Header.Get("Location"))
	if !strings.Contains(page, `data-status="suspended"`) || !strings.Contains(page, "Đã tạm dừng hiệu lực của kết quả") ||
		!strings.Contains(page, `id="reinstate"`) || strings.Contains(page, `id="suspend"`) {
		t.Error("suspended result page")
	}
	// The rules let a later decision suspend a suspended result again.
	if resp, _ := act(r1.ResultCode, "suspend", url.Values{"decision": {"13/QĐ-UBND"}, "reason": {"UNDER_VERIFICATION"}}); resp.StatusCode != 303 {
		t.Errorf("suspending a suspended result under another decision: %d", resp.StatusCode)
	}
	if resp, _ := act(r1.ResultCode, "reinstate", url.Values{"decision": {"14/QĐ-UBND"}, "reason": {"VERIFIED"}}); resp.StatusCode != 303 || status(r1.ResultCode) != storage.StatusActive {
		t.Errorf("reinstate: %d", resp.StatusCode)
	}
	resp, page = act(r1.ResultCode, "reinstate", url.Values{"decision": {"15/QĐ-UBND"}, "reason": {"VERIFIED"}})
	if resp.StatusCode != 409 || !strings.Contains(page, "chỉ khôi phục được kết quả đang bị tạm dừng") {
		t.Errorf("reinstating an active result: %d", resp.StatusCode)
	}
	resp, _ = act(r1.ResultCode, "revoke", url.Values{"decision": {"125/QĐ-UBND ngày 02/03/2026"}, "reason": {"ISSUED_IN_ERROR"}})
	wantStatus(t, "revoke", resp, http.StatusSeeOther)
	_, page = b.get(resp.Header.Get("Location"))
	if !strings.Contains(page, `data-status="revoked"`) || !strings.Contains(page, `data-valid="false"`) || !strings.Contains(page, "Đã thu hồi") ||
		strings.Contains(page, `id="revoke"`) || !strings.Contains(page, `id="no-actions"`) || !strings.Contains(page, "125/QĐ-UBND ngày 02/03/2026") ||
		!strings.Contains(page, "Cán bộ quanly1") || !strings.Contains(page, "Kết quả được cấp sai hoặc nhầm lẫn") {
		t.Error("revoked result page")
	}
	resp, page = act(r1.ResultCode, "revoke", url.Values{"decision": {"126/QĐ-UBND"}, "reason": {"ISSUED_IN_ERROR"}})
	if resp.StatusCode != 409 || !strings.Contains(page, "Thu hồi là quyết định cuối cùng") {
		t.Errorf("revoking a revoked result: %d", resp.StatusCode)
	}
	evs, err := e.repo.Events(ctx, r1.ResultCode)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if len(evs) != 5 || last.Status != storage.StatusRevoked || last.DecisionRef != "125/QĐ-UBND ngày 02/03/2026" ||
		last.ReasonCode != "ISSUED_IN_ERROR" || last.Actor != "staff:"+e.accts.ID("quanly1") {
		t.Errorf("events %+v", evs)
	}
	if v, _ := e.repo.Validity(ctx, r1.ResultCode, e.clk.Now()); v.Valid || v.Reason != storage.ReasonRevoked {
		t.Errorf("validity after revoke %+v", v)
	}

	// Supersede: the new result must exist and not be the old one.
	if resp, page := act(r2.ResultCode, "supersede", url.Values{"decision": {"7/QĐ"}, "reason": {"REPLACED"}, "new_code": {"000.00.31.H29-260302-0099-KQ1"}}); resp.StatusCode != 400 || !strings.Contains(page, "Kết quả mới phải được cấp trước") {
		t.Errorf("supersede by an unknown result: %d", resp.StatusCode)
	}
	if resp, _ := act(r2.ResultCode, "supersede", url.Values{"decision": {"7/QĐ"}, "reason": {"REPLACED"}, "new_code": {r2.ResultCode}}); resp.StatusCode != 400 {
		t.Errorf("supersede by itself: %d", resp.StatusCode)
	}
	resp, _ = act(r2.ResultCode, "supersede", url.Values{"decision": {"7/QĐ"}, "reason": {"REPLACED"}, "new_code": {r3.ResultCode}})
	wantStatus(t, "supersede", resp, http.StatusSeeOther)
	_, page = b.get("/results/" + r2.ResultCode)
	if !strings.Contains(page, `data-status="superseded"`) || !strings.Contains(page, `href="/results/`+r3.ResultCode+`"`) {
		t.Error("superseded result page")
	}
	evs, _ = e.repo.Events(ctx, r3.ResultCode)
	if l := evs[len(evs)-1]; l.Supersedes != r2.ResultCode || l.DecisionRef != "7/QĐ" {
		t.Errorf("new result's events %+v", evs)
	}

	// Another agency's result: shown, not changed.
	_, page = b.get("/results/" + foreign.ResultCode)
	if strings.Contains(page, `id="revoke"`) || !strings.Contains(page, "do cơ quan khác chuyển đổi") {
		t.Error("another agency's result offers changes")
	}
	resp, _ = act(foreign.ResultCode, "revoke", url.Values{"decision": {"9/QĐ"}, "reason": {"OTHER"}})
	if resp.StatusCode != 403 || status(foreign.ResultCode) != storage.StatusActive {
		t.Errorf("revoking another agency's result: %d", resp.StatusCode)
	}

	// Every action and refusal is audited, under the result.
	var rules []string
	for _, r := range e.audit.records() {
		if r.Rule == "result_viewed" || r.Rule == "signed_in" {
			continue
		}
		rules = append(rules, fmt.Sprintf("%s:%s", r.Decision, r.Rule))
		if r.Rule != "csrf_missing" && r.ResultCode == "" && r.Rule != "role_forbidden" {
			t.Errorf("action record without its result: %+v", r)
		}
	}
	want := "deny:decision_ref_required deny:decision_ref_invalid deny:decision_ref_invalid deny:reason_required deny:reason_required deny:csrf_missing " +
		"allow:result_suspended allow:result_suspended allow:result_reinstated deny:invalid_transition allow:result_revoked deny:invalid_transition " +
		"deny:new_code_unknown deny:new_code_invalid allow:result_superseded deny:not_issuing_agency"
	if got := strings.Join(rules, " "); got != want {
		t.Errorf("audit:\n got %s\nwant %s", got, want)
	}
	checkNoPersonalData(t, e, []string{storagetest.HolderID(1), storagetest.HolderID(2)}, []string{storagetest.HolderName(1)})
}

// TestResultsAndReportsForSupervisorsOnly: counter staff and reviewers
// are refused every result and report page and action (audited), and a
// citizen ID they post is not recorded.
func TestResultsAndReportsForSupervisorsOnly(t *testing.T) {
	e, _ := newRepoEnv(t)
	srv := e.repoApp()
	r1 := e.file(1, 1)
	for _, role := range []Role{RoleCounter, RoleReviewer} {
		b, tok := e.signedIn(srv, "nv-"+string(role), role)
		for _, p := range []string{"/results", "/results/" + r1.ResultCode, "/results/" + r1.ResultCode + "/pdf",
			"/reports", "/reports?month=2026-03", "/reports/monthly", "/reports/monthly.csv?month=2026-03"} {
			resp, body := b.get(p)
			if resp.StatusCode != 403 || !strings.Contains(body, "Không có quyền truy cập") || strings.Contains(body, "%PDF") {
				t.Errorf("%s opening %s: %d", role, p, resp.StatusCode)
			}
		}
		for _, p := range []string{"/results", "/results/" + r1.ResultCode + "/revoke"} {
			resp, _ := b.post(p, url.Values{"csrf": {tok}, "q": {storagetest.HolderID(1)}, "decision": {"1/QĐ"}, "reason": {"OTHER"}})
			if resp.StatusCode != 403 {
				t.Errorf("%s posting %s: %d", role, p, resp.StatusCode)
			}
		}
	}
	n := 0
	for _, r := range e.audit.records() {
		if r.Rule == "role_forbidden" {
			n++
		}
	}
	if n != 2*9 {
		t.Errorf("%d refusals audited, want 18", n)
	}
	if v, _ := e.repo.Validity(context.Background(), r1.ResultCode, e.clk.Now()); !v.Valid {
		t.Error("a reviewer revoked a result")
	}
	// A supervisor's search without the token is refused too.
	b, _ := e.signedIn(srv, "quanly1", RoleSupervisor)
	if resp, _ := b.post("/results", url.Values{"q": {storagetest.HolderID(1)}}); resp.StatusCode != 403 {
		t.Errorf("search without the CSRF token: %d", resp.StatusCode)
	}
	checkNoPersonalData(t, e, []string{storagetest.HolderID(1)}, []string{storagetest.HolderName(1)})
}

func TestResultsNeedTheRepositoryAndAuditKey(t *testing.T) {
	e, _ := newRepoEnv(t)
	srv := e.app(func(o *Options) { o.Repo = e.repo }) // no audit key
	r1 := e.file(1, 1)
	b, tok := e.signedIn(srv, "quanly1", RoleSupervisor)
	if resp, _ := b.get("/results/" + r1.ResultCode); resp.StatusCode != 503 {
		t.Errorf("result page without an audit key: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/results", url.Values{"csrf": {tok}, "q": {storagetest.HolderID(1)}}); resp.StatusCode != 503 {
		t.Errorf("citizen search without an audit key: %d", resp.StatusCode)
	}
}

// TestEveryValidityReasonHasAText: each reason a form offers, and each
// reason code the repository writes, is said in Vietnamese.
func TestEveryValidityReasonHasAText(t *testing.T) {
	codes := []string{storage.ReasonCodeIssued, storage.ReasonSuperseded, "SUPERSEDES"}
	for _, ra := range resultActions {
		codes = append(codes, ra.Reasons...)
		if ra.Label == "" || ra.Done == "" || ra.Rule == "" {
			t.Errorf("action %s lacks its texts", ra.Name)
		}
	}
	for _, c := range codes {
		if resultReasonTexts[c] == "" {
			t.Errorf("reason %s has no Vietnamese text", c)
		}
	}
	for _, s := range []string{storage.StatusActive, storage.StatusSuspended, storage.StatusRevoked, storage.StatusSuperseded} {
		if resultStatusTexts[s] == "" {
			t.Errorf("status %s has no Vietnamese text", s)
		}
	}
}
