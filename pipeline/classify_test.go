package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"sohoa/ocr"
	"sohoa/storage"
)

type crashErr struct{}

func (crashErr) Error() string         { return "ocr child killed by input" }
func (crashErr) PermanentCode() string { return CodeOCRCrash }

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCode  string
		permanent bool
	}{
		{"nil", nil, "", false},
		{"empty", fmt.Errorf("a.pdf: %w", ocr.ErrEmpty), CodeEmpty, true},
		{"too large", fmt.Errorf("b.png: 50000x50000: %w", ocr.ErrTooLarge), CodeTooLarge, true},
		{"encrypted", fmt.Errorf("c.pdf: %w", ocr.ErrEncrypted), CodeEncrypted, true},
		{"unsupported", fmt.Errorf("d.pdf: zip: %w", ocr.ErrUnsupported), CodeUnsupported, true},
		{"unreadable", fmt.Errorf("e.jpg: %w", ocr.ErrUnreadable), CodeUnreadable, true},
		{"corrupt store", fmt.Errorf("get: %w", storage.ErrCorrupt), CodeCorrupt, true},
		{"invalid manifest", fmt.Errorf("file: %w", storage.ErrInvalid), CodeInvalid, true},
		{"explicit", Permanent(CodeSigning, errors.New("x")), CodeSigning, true},
		{"coder", fmt.Errorf("ocr: %w", crashErr{}), CodeOCRCrash, true},
		{"network", errors.New("dial tcp 127.0.0.1:17070: connection refused"), "", false},
		{"cancelled", fmt.Errorf("ocr: %w", context.Canceled), "", false},
		{"not found is transient", fmt.Errorf("intake: %w", storage.ErrNotFound), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, perm := classify(tt.err)
			if code != tt.wantCode || perm != tt.permanent {
				t.Errorf("classify(%v) = %q, %v; want %q, %v", tt.err, code, perm, tt.wantCode, tt.permanent)
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	key := storage.InputKeyOf([]byte("scan"))
	tests := []struct {
		name    string
		in      string
		v       any
		wantErr bool
	}{
		{"ocr ok", `{"input_key":"` + key + `"}`, &OCRPayload{}, false},
		{"issue ok", `{"input_key":"` + key + `","doc":2}`, &IssuePayload{}, false},
		{"unknown field", `{"input_key":"` + key + `","x":1}`, &OCRPayload{}, true},
		{"short key", `{"input_key":"abc"}`, &OCRPayload{}, true},
		{"path in key", `{"input_key":"../../etc/passwd234567abcdefghijklmnopqrstuvwxyz234567abc"}`, &OCRPayload{}, true},
		{"hex key", `{"input_key":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`, &OCRPayload{}, true},
		{"negative doc", `{"input_key":"` + key + `","doc":-1}`, &IssuePayload{}, true},
		{"not json", `nope`, &OCRPayload{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodePayload([]byte(tt.in), tt.v)
			if (err != nil) != tt.wantErr {
				t.Errorf("decodePayload(%s) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(`{"input_key":"` + storage.InputKeyOf([]byte("x")) + `","doc":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p IssuePayload
		if err := decodePayload(b, &p); err == nil && !validInputKey(p.InputKey) {
			t.Fatalf("accepted invalid key %q", p.InputKey)
		}
	})
}
