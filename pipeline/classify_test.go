package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
)

// codedErr stands for an error of a package the pipeline does not import
// (ocr/tesseract) that carries its reason code.
type codedErr string

func (e codedErr) Error() string         { return "ocr: " + string(e) }
func (e codedErr) PermanentCode() string { return string(e) }

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
		// ocr/tesseract wraps ocr.ErrUnreadable too; the code it carries wins.
		{"ocr crash", fmt.Errorf("recognise f.jpg: %w: %w", codedErr("ocr_crash"), ocr.ErrUnreadable), CodeOCRCrash, true},
		{"ocr timeout", fmt.Errorf("recognise g.jpg: %w", codedErr("ocr_timeout")), CodeOCRTimeout, true},
		{"corrupt store", fmt.Errorf("get: %w", storage.ErrCorrupt), CodeCorrupt, true},
		{"invalid manifest", fmt.Errorf("file: %w", storage.ErrInvalid), CodeInvalid, true},
		{"bad payload", permanent(CodeBadPayload, errors.New("document 3 not in record")), CodeBadPayload, true},
		{"explicit code", fmt.Errorf("issue: %w", permanent(CodeInvalid, errors.New("no procedure code"))), CodeInvalid, true},
		{"render", fmt.Errorf("issue: render: %w", signing.ErrRender), CodeSigning, true},
		{"own output invalid", fmt.Errorf("issue: own output does not verify: %w", signing.ErrInvalid), CodeSigning, true},
		{"own output not a PDF", fmt.Errorf("issue: own output does not verify: %w", signing.ErrNotPDF), CodeSigning, true},
		{"sign (TSA down) is transient", fmt.Errorf("issue: sign: %w", errors.New("tsa: connection refused")), "", false},
		{"network", errors.New("dial tcp 127.0.0.1:17070: connection refused"), "", false},
		{"cancelled", fmt.Errorf("ocr: %w", context.Canceled), "", false},
		{"deadline", fmt.Errorf("s3 get: %w", context.DeadlineExceeded), "", false},
		{"cancelled render", fmt.Errorf("issue: render: %w", context.Canceled), "", false},
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
