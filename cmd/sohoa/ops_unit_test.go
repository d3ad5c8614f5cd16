package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sohoa/web"
)

func TestMetricLabel(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "none"},
		{"ocr_page", "ocr_page"},
		{"GET /v1/results/{code}", "GET /v1/results/{code}"},
		{"low-confidence", "low-confidence"},
		{"001234567890", "other"},          // a citizen ID never becomes a label
		{"Nguyễn Văn A.jpg", "other"},      // nor a file name with letters beyond ASCII
		{strings.Repeat("a", 81), "other"}, // nor anything long
		{"client\nx", "other"},
	} {
		if got := label(c.in); got != c.want {
			t.Errorf("label(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpsGuard: the queue monitor opens to the ops token or a
// supervisor's session, and to nothing else.
func TestOpsGuard(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "queues") })
	o := &opsListener{metrics: newMetrics(), ready: readiness(slog.New(slog.DiscardHandler)), queues: inner, token: "tok",
		log: slog.New(slog.DiscardHandler),
		roleOf: func(r *http.Request) (web.Role, error) {
			switch c, _ := r.Cookie("role"); {
			case c == nil:
				return "", nil
			case c.Value == "broken":
				return "", errors.New("store down")
			default:
				return web.Role(c.Value), nil
			}
		}}
	h := o.handler()
	for _, c := range []struct {
		name, auth, role string
		want             int
	}{
		{"nobody", "", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", "", http.StatusUnauthorized},
		{"not bearer", "Basic dG9rOg==", "", http.StatusUnauthorized},
		{"wrong token beats a session", "Bearer nope", "supervisor", http.StatusUnauthorized},
		{"token", "Bearer tok", "", http.StatusOK},
		{"supervisor", "", "supervisor", http.StatusOK},
		{"counter", "", "counter", http.StatusForbidden},
		{"reviewer", "", "reviewer", http.StatusForbidden},
		{"store down", "", "broken", http.StatusServiceUnavailable},
	} {
		for _, path := range []string{"/ops/queues/", "/ops/queues/api/queues"} {
			req := httptest.NewRequest("GET", path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.role != "" {
				req.AddCookie(&http.Cookie{Name: "role", Value: c.role})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("%s: GET %s = %d, want %d", c.name, path, rec.Code, c.want)
			}
		}
	}
	// /metrics and /healthz need nothing.
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
	}
}

func TestReadiness(t *testing.T) {
	h := readiness(slog.New(slog.DiscardHandler),
		readyCheck{"redis", func(context.Context) error { return nil }},
		readyCheck{"bucket", func(context.Context) error { return errors.New("versioning off at 10.0.0.5") }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, `"bucket":"failed"`) || !strings.Contains(body, `"redis":"ok"`) {
		t.Errorf("readyz = %d %s", rec.Code, body)
	}
	if strings.Contains(body, "10.0.0.5") {
		t.Errorf("readyz shows the failure's reason: %s", body)
	}
}
