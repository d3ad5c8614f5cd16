package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// batchClient talks to the intake API as a clerk of an office (the
// Authorize hook reads X-Test-Office) or, with office "", as a script.
type batchClient struct {
	t      *testing.T
	url    string
	office string
}

func (c batchClient) do(method, path string, body *bytes.Buffer, ct string) (int, []byte) {
	c.t.Helper()
	if body == nil {
		body = &bytes.Buffer{}
	}
	req, _ := http.NewRequest(method, c.url+path, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.office == "" {
		req.Header.Set("Authorization", "Bearer counter-secret")
	} else {
		req.Header.Set("X-Test-Office", c.office)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func (c batchClient) open(req BatchRequest) (int, BatchResponse, string) {
	c.t.Helper()
	b, _ := json.Marshal(req)
	status, body := c.do("POST", "/v1/batches", bytes.NewBuffer(b), "application/json")
	var br BatchResponse
	json.Unmarshal(body, &br)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(body, &e)
	return status, br, e.Error.Code
}

func (c batchClient) add(batch, name string, data []byte) (int, BatchResponse) {
	c.t.Helper()
	body, ct := multipartBody(c.t, nil, map[string][]byte{name: data})
	status, b := c.do("POST", "/v1/batches/"+batch+"/files", body, ct)
	var br BatchResponse
	json.Unmarshal(b, &br)
	return status, br
}

func batchHarness(t *testing.T) (*harness, *httptest.Server, *[]string) {
	h := newHarness(t)
	var audited []string
	h.intake.Authorize = func(r *http.Request) (Caller, error) {
		office := r.Header.Get("X-Test-Office")
		staff := storage.InputKeyOf([]byte("clerk of " + office))
		return Caller{ID: "staff:" + staff, Staff: staff, Office: office,
			Audit: func(_ context.Context, allowed bool, status int, rule, target string) error {
				audited = append(audited, fmt.Sprintf("%v %d %s %s", allowed, status, rule, target))
				return nil
			}}, map[bool]error{true: nil, false: errors.New("signed out")}[office != ""]
	}
	srv := newIntakeServer(t, h.intake.Handler())
	t.Cleanup(srv.Close)
	return h, srv, &audited
}

// TestBatchFileByFileSharesOneDossierCode: a batch opened empty and filled
// one request a file gives its ten files one dossier code (allocated once),
// numbers their results KQ1…KQ10, stores its record and lists its files in
// the bucket, carries the clerk's office and account, and takes files only
// from clerks of its office.
func TestBatchFileByFileSharesOneDossierCode(t *testing.T) {
	h, srv, audited := batchHarness(t)
	ctx := context.Background()
	const office = "000.00.31.H29"
	clerk := batchClient{t, srv.URL, office}
	status, br, _ := clerk.open(BatchRequest{ProcedureCode: "1.004873"})
	if status != http.StatusCreated || !storage.ValidBatchID(br.BatchID) || !storage.ValidDossierCode(br.DossierCode) {
		t.Fatalf("open: %d %+v", status, br)
	}
	for i := range 10 {
		status, got := clerk.add(br.BatchID, fmt.Sprintf("trang-%02d.jpg", i), []byte(fmt.Sprint("page scan ", i)))
		if status != http.StatusCreated || len(got.Files) != 1 || got.Files[0].Status != StatusQueued || got.Files[0].DossierCode != br.DossierCode {
			t.Fatalf("file %d: %d %+v, want queued under %s", i, status, got, br.DossierCode)
		}
	}
	// The same bytes again in the batch: one file still.
	if status, got := clerk.add(br.BatchID, "trang-00-lai.jpg", []byte("page scan 0")); status != http.StatusCreated || got.Files[0].Status != StatusAlreadyQueued {
		t.Errorf("re-upload: %d %+v", status, got)
	}
	n := 0
	h.bucket.List(ctx, storage.DossierDayPrefix(office, h.intake.Now()), func(storage.ObjectInfo) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d dossier codes spent for one batch, want 1", n)
	}
	b, err := h.repo.Batch(ctx, br.BatchID)
	if err != nil || b.DossierCode != br.DossierCode || b.Office != office || b.Staff == "" || b.ProcedureCode != "1.004873" || b.PerFile {
		t.Fatalf("stored batch = %+v, %v", b, err)
	}
	keys, err := h.repo.BatchFileKeys(ctx, br.BatchID)
	if err != nil || len(keys) != 10 {
		t.Fatalf("batch lists %d files (%v), want 10", len(keys), err)
	}
	_, meta, err := h.repo.Intake(ctx, keys[0])
	if err != nil || meta.Office != office || meta.Staff != b.Staff || meta.BatchID != b.ID {
		t.Errorf("intake meta = %+v, %v; want the clerk's office and account", meta, err)
	}
	ids, err := h.repo.OfficeBatchIDs(ctx, office, h.intake.Now())
	if err != nil || len(ids) != 1 || ids[0] != b.ID {
		t.Errorf("office history = %v, %v", ids, err)
	}

	// Another office's clerk and a script may neither add nor read.
	other := batchClient{t, srv.URL, "000.00.32.H29"}
	if status, _ := other.add(br.BatchID, "x.jpg", []byte("intruder")); status != http.StatusForbidden {
		t.Errorf("another office adds: %d, want 403", status)
	}
	if status, _ := other.do("GET", "/v1/batches/"+br.BatchID, nil, ""); status != http.StatusForbidden {
		t.Errorf("another office reads: %d, want 403", status)
	}
	script := batchClient{t, srv.URL, ""}
	if status, _ := script.add(br.BatchID, "x.jpg", []byte("script")); status != http.StatusForbidden {
		t.Errorf("a script adds to a clerk's batch: %d, want 403", status)
	}
	if !strings.Contains(strings.Join(*audited, "\n"), "false 403 batch_other_office "+br.BatchID) {
		t.Errorf("refusal not audited: %v", *audited)
	}
	if status, _ := clerk.add("20260302-080000-k3xq7mbn2v", "x.jpg", []byte("nowhere")); status != http.StatusNotFound {
		t.Errorf("unknown batch: %d, want 404", status)
	}

	h.runAll(t)
	st, err := h.intake.BatchStatus(ctx, b)
	if err != nil || len(st.Files) != 10 || !st.Final {
		t.Fatalf("batch status = %+v, %v", st, err)
	}
	results := map[string]bool{}
	for _, f := range st.Files {
		if f.State != StateIssued || f.DossierCode != br.DossierCode || !strings.HasPrefix(f.Name, "trang-") {
			t.Errorf("file %+v, want issued under %s", f, br.DossierCode)
		}
		for _, r := range f.Results {
			results[r] = true
		}
	}
	for i := 1; i <= 10; i++ {
		if !results[fmt.Sprintf("%s-KQ%d", br.DossierCode, i)] {
			t.Errorf("no result %s-KQ%d among %v", br.DossierCode, i, results)
		}
	}
	status, body := clerk.do("GET", "/v1/batches/"+br.BatchID, nil, "")
	if status != 200 || !bytes.Contains(body, []byte(`"final":true`)) {
		t.Errorf("GET batch: %d %s", status, body)
	}
	// A file named after its holder: the name is sealed metadata, never
	// part of a key (batch records, file entries, the office history).
	const person, id = "Nguyễn Thị Thu Trang", "001199012345"
	if status, _ := clerk.add(br.BatchID, person+" "+id+".jpg", []byte("holder scan")); status != http.StatusCreated {
		t.Errorf("file named after its holder: %d", status)
	}
	storagetest.CheckKeys(t, h.bucket, []string{id}, []string{person})
}

// TestBatchOptions: a code per file on request; a named code reserved once
// for the whole batch; malformed, contradictory or taken requests refused
// before anything is spent.
func TestBatchOptions(t *testing.T) {
	h, srv, _ := batchHarness(t)
	ctx := context.Background()
	const office = "000.00.31.H29"
	clerk := batchClient{t, srv.URL, office}

	status, br, _ := clerk.open(BatchRequest{PerFile: true})
	if status != http.StatusCreated || br.DossierCode != "" || !br.PerFile {
		t.Fatalf("open per file: %d %+v", status, br)
	}
	codes := map[string]bool{}
	for i := range 3 {
		_, got := clerk.add(br.BatchID, fmt.Sprintf("hs-%d.pdf", i), []byte(fmt.Sprint("dossier ", i)))
		codes[got.Files[0].DossierCode] = true
	}
	if len(codes) != 3 {
		t.Errorf("per file: codes %v, want 3 different", codes)
	}

	named := storage.FormatDossierCode(office, h.intake.Now(), 77)
	status, br, _ = clerk.open(BatchRequest{DossierCode: named})
	if status != http.StatusCreated || br.DossierCode != named {
		t.Fatalf("open named: %d %+v", status, br)
	}
	for i := range 2 {
		if _, got := clerk.add(br.BatchID, "a.jpg", []byte(fmt.Sprint("named ", i))); got.Files[0].DossierCode != named {
			t.Errorf("named batch file = %+v", got.Files[0])
		}
	}
	for _, tc := range []struct {
		req  BatchRequest
		want string
	}{
		{BatchRequest{DossierCode: named}, RefusedDossierTaken},
		{BatchRequest{DossierCode: "ABC"}, RefusedDossierFormat},
		{BatchRequest{DossierCode: storage.FormatDossierCode(office, h.intake.Now(), 78), PerFile: true}, RefusedDossierPerFile},
		{BatchRequest{ProcedureCode: "thu tuc 1"}, RefusedProcedureFormat},
	} {
		if status, _, code := clerk.open(tc.req); status != http.StatusUnprocessableEntity || code != tc.want {
			t.Errorf("open %+v: %d %s, want 422 %s", tc.req, status, code, tc.want)
		}
	}
	h.intake.Procedures = map[string]string{"khai-sinh": "DEV-KHAI-SINH"}
	if status, _, _ := clerk.open(BatchRequest{ProcedureCode: "DEV-KHAI-SINH"}); status != http.StatusCreated {
		t.Errorf("a configured procedure code: %d, want 201", status)
	}

	// One request, one batch: one code for its files, unless per file.
	body, ct := multipartBody(t, map[string]string{"procedure_code": "1.004873"},
		map[string][]byte{"1.jpg": []byte("one request 1"), "2.jpg": []byte("one request 2"), "3.jpg": []byte("one request 3")})
	status, raw := clerk.do("POST", "/v1/batches", body, ct)
	var one BatchResponse
	json.Unmarshal(raw, &one)
	if status != http.StatusCreated || one.DossierCode == "" {
		t.Fatalf("one request: %d %s", status, raw)
	}
	for _, f := range one.Files {
		if f.DossierCode != one.DossierCode {
			t.Errorf("one request: %+v, want %s", f, one.DossierCode)
		}
	}
	if b, err := h.repo.Batch(ctx, one.BatchID); err != nil || b.Office != office || b.DossierCode != one.DossierCode {
		t.Errorf("one-request batch record = %+v, %v", b, err)
	}
	body, ct = multipartBody(t, map[string]string{"dossier_per_file": "1"},
		map[string][]byte{"1.jpg": []byte("per file 1"), "2.jpg": []byte("per file 2")})
	_, raw = clerk.do("POST", "/v1/batches", body, ct)
	json.Unmarshal(raw, &one)
	if len(one.Files) != 2 || one.Files[0].DossierCode == one.Files[1].DossierCode || !one.PerFile {
		t.Errorf("one request per file: %s", raw)
	}
}
