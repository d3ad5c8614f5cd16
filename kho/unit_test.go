package kho_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/kho"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestBackoff(t *testing.T) {
	b := kho.Backoff{Base: 10 * time.Second, Max: time.Hour}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{-1, 10 * time.Second}, {0, 10 * time.Second}, {1, 20 * time.Second}, {2, 40 * time.Second},
		{8, 2560 * time.Second}, {9, time.Hour}, {60, time.Hour}, {1 << 20, time.Hour},
	} {
		if got := b.Delay(tc.n); got != tc.want {
			t.Errorf("Delay(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

// fakeSource serves one manifest and its holder.
type fakeSource struct{ m storage.Manifest }

func (f fakeSource) Get(_ context.Context, code string) (storage.Manifest, error) {
	if code != f.m.ResultCode {
		return storage.Manifest{}, storage.ErrNotFound
	}
	return f.m, nil
}

func (f fakeSource) HolderID(context.Context, storage.Manifest) (string, string, error) {
	return storage.IDTypeCCCD, storagetest.HolderID(7), nil
}

func fixtureEvent() (storage.Manifest, storage.OutboxEvent) {
	day := time.Date(2026, 3, 2, 9, 30, 0, 0, storage.Vietnam())
	req := storagetest.Result(42, 7, day)
	m := req.Manifest
	m.ID = "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"
	m.File.SHA256, m.File.Size = strings.Repeat("cd", 32), 123456
	ev := storage.OutboxEvent{ResultID: m.ID, ResultCode: m.ResultCode, Seq: 1, Kind: storage.KindRevoked,
		Status: storage.StatusRevoked, At: day.Add(48 * time.Hour), DecisionRef: "15/QĐ-UBND", RecordedAt: day.Add(49 * time.Hour)}
	return m, ev
}

// TestPayloadGolden pins the documented payload (README, "Sync to the
// citizen's data store").
func TestPayloadGolden(t *testing.T) {
	m, ev := fixtureEvent()
	p, err := kho.Build(t.Context(), fakeSource{m}, ev, func(code string) string { return "https://verify.example/v/" + code + "?k=abcdefabcdef" })
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "payload.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload differs from %s:\n%s", path, got)
	}
	// Another result's event does not build.
	ev.ResultID = "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b3"
	if _, err := kho.Build(t.Context(), fakeSource{m}, ev, func(string) string { return "" }); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Build of a mismatched event: %v, want ErrCorrupt", err)
	}
}

// TestSenderAnswers: 2xx acknowledges (with the Kho's reference), anything
// else is a SendError naming only the status; the error text never
// repeats the payload.
func TestSenderAnswers(t *testing.T) {
	m, ev := fixtureEvent()
	p, err := kho.Build(t.Context(), fakeSource{m}, ev, func(string) string { return "https://verify.example/" })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status  int
		body    string
		wantErr bool
		wantRef string
	}{
		{200, `{"portal_ref":"KHO-9"}`, false, "KHO-9"},
		{201, `not json`, false, ""},
		{204, ``, false, ""},
		{302, ``, true, ""},
		{409, `{"portal_ref":"x"}`, true, ""},
		{503, ``, true, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Idempotency-Key") != kho.EventID(m.ID, 1) || r.Header.Get("Authorization") != "" {
				t.Errorf("headers %v", r.Header)
			}
			if tc.status == 302 {
				w.Header().Set("Location", "http://elsewhere.example/")
			}
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		}))
		s, err := kho.NewSender(kho.SenderOptions{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		ack, err := s.Send(t.Context(), p)
		srv.Close()
		var se *kho.SendError
		switch {
		case tc.wantErr && (!errors.As(err, &se) || se.HTTPStatus != tc.status):
			t.Errorf("%d: err %v, want a SendError with the status", tc.status, err)
		case !tc.wantErr && (err != nil || ack.PortalRef != tc.wantRef || ack.HTTPStatus != tc.status):
			t.Errorf("%d: ack %+v, %v; want ref %q", tc.status, ack, err, tc.wantRef)
		}
		if err != nil && strings.Contains(err.Error(), storagetest.HolderID(7)) {
			t.Errorf("%d: error %q names the holder", tc.status, err)
		}
	}
	if _, err := kho.NewSender(kho.SenderOptions{URL: "ftp://x"}); err == nil {
		t.Error("NewSender accepted an ftp URL")
	}
}
