package web

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"sohoa/pipeline"
)

type nopQueue struct{}

func (nopQueue) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

// TestCounterUploadsWithItsSession: beside the web app, the intake API
// accepts a signed-in counter clerk's upload with the session's CSRF
// header (and the bearer token of scripts), and nobody else's.
func TestCounterUploadsWithItsSession(t *testing.T) {
	e := newEnv(t)
	cpw := e.user("quay1", RoleCounter)
	rpw := e.user("kiemtra1", RoleReviewer)
	app, err := New(Options{Accounts: e.accts, Sessions: e.store, Audit: e.audit, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	in := pipeline.NewIntake(e.repo, nopQueue{}, "000.00.31.H29", nil)
	in.Token, in.Authorize = "script-token", app.Authorize
	mux := http.NewServeMux()
	mux.Handle("/v1/", in.Handler())
	mux.Handle("/", app.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	upload := func(b *browser, csrf string, header ...string) (int, pipeline.BatchResponse) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("files", "to-khai.jpg")
		fw.Write([]byte("scan bytes " + csrf + strings.Join(header, "")))
		mw.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/batches", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, text := b.do(req)
		var br pipeline.BatchResponse
		json.Unmarshal([]byte(text), &br)
		return resp.StatusCode, br
	}
	metaCSRF := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

	clerk := newBrowser(t, srv)
	clerk.signin("quay1", cpw)
	_, page := clerk.get("/")
	m := metaCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("upload page has no CSRF token for its fetches")
	}
	tok := m[1]
	code, br := upload(clerk, tok)
	if code != http.StatusCreated || len(br.Files) != 1 || br.Files[0].Status != pipeline.StatusQueued {
		t.Fatalf("clerk's upload with the session: %d %+v", code, br)
	}
	resp, _ := clerk.get("/v1/inputs/" + br.Files[0].InputKey)
	if resp.StatusCode != 200 {
		t.Errorf("clerk reads the input's status: %d", resp.StatusCode)
	}
	if code, _ := upload(clerk, ""); code != http.StatusForbidden {
		t.Errorf("session without the CSRF header: %d, want 403", code)
	}
	if code, _ := upload(clerk, otherToken(tok)); code != http.StatusForbidden {
		t.Errorf("session with a wrong CSRF header: %d, want 403", code)
	}
	if code, _ := upload(clerk, tok, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("from another site: %d, want 403", code)
	}

	reviewer := newBrowser(t, srv)
	reviewer.signin("kiemtra1", rpw)
	_, rpage := reviewer.get("/")
	if code, _ := upload(reviewer, csrf(t, rpage)); code != http.StatusForbidden {
		t.Errorf("a reviewer's upload: %d, want 403", code)
	}
	if code, _ := upload(newBrowser(t, srv), "", "Authorization", "Bearer script-token"); code != http.StatusCreated {
		t.Errorf("a script with the bearer token: %d, want 201", code)
	}

	_, page = clerk.get("/")
	old := clerk.cookies[sessionCookie]
	clerk.post("/signout", map[string][]string{"csrf": {csrf(t, page)}})
	clerk.cookies[sessionCookie] = old
	if code, _ := upload(clerk, tok); code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d, want 401", code)
	}
}

// TestUploadPageExplainsEveryRefusal: each error code the intake API
// answers a batch with has a Vietnamese text on the upload page (401 is
// "signed out"; not_found is for status reads).
func TestUploadPageExplainsEveryRefusal(t *testing.T) {
	var src []byte
	for _, f := range []string{"../pipeline/intake.go", "../pipeline/batch.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	js, err := staticFS.ReadFile("static/upload.js")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`api\.WriteError\(w, http\.Status\w+, "(\w+)"`).FindAllStringSubmatch(string(src), -1)
	if len(codes) < 5 {
		t.Fatalf("found %d error codes in pipeline/intake.go and batch.go; is the pattern right?", len(codes))
	}
	for _, m := range codes {
		if m[1] == "unauthenticated" || m[1] == "not_found" {
			continue
		}
		if !regexp.MustCompile(`\n\s+` + m[1] + `: "[^"]*\p{L}`).Match(js) {
			t.Errorf("upload.js has no Vietnamese text for the intake's %q", m[1])
		}
	}
}

// otherToken is tok with its first character changed.
func otherToken(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}
