// This file owns the one decision between retry and quarantine: classify,
// the quarantine reason codes, and how errors are marked permanent.

package pipeline

import (
	"context"
	"errors"

	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
)

// Quarantine reason codes: stable strings that operators and the upload page
// can rely on.
const (
	CodeEmpty       = "empty"
	CodeTooLarge    = "too_large"
	CodeUnreadable  = "unreadable"
	CodeEncrypted   = "encrypted"
	CodeUnsupported = "unsupported"
	CodeOCRCrash    = "ocr_crash"
	CodeOCRTimeout  = "ocr_timeout"
	CodeCorrupt     = "stored_object_corrupt"
	CodeBadPayload  = "bad_payload"
	CodeSigning     = "signing_failed"
	CodeInvalid     = "invalid_result"
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct {
	code string
	err  error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err, a failure of the pipeline's own checks, as not worth
// retrying, with a stable reason code.
func permanent(code string, err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{code: code, err: err}
}

// permanentCoder is implemented by errors of packages the pipeline does not
// import that know they are permanent, with their reason code: ocr/tesseract
// (cgo) reports an input that killed the OCR child every time as
// "ocr_crash" and one that exceeded the per-file timeout as "ocr_timeout".
type permanentCoder interface {
	PermanentCode() string
}

// classify is the one place that decides retry versus quarantine. It returns
// the quarantine code and true for permanent errors, or "" and false for
// transient ones (S3 or Redis unavailable, a cancelled lease, a timeout,
// a TSA or HSM outage while signing).
func classify(err error) (code string, perm bool) {
	if err == nil {
		return "", false
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return pe.code, true
	}
	var pc permanentCoder
	if errors.As(err, &pc) {
		return pc.PermanentCode(), true
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "", false
	case errors.Is(err, ocr.ErrEmpty):
		return CodeEmpty, true
	case errors.Is(err, ocr.ErrTooLarge):
		return CodeTooLarge, true
	case errors.Is(err, ocr.ErrEncrypted):
		return CodeEncrypted, true
	case errors.Is(err, ocr.ErrUnsupported):
		return CodeUnsupported, true
	case errors.Is(err, ocr.ErrUnreadable):
		return CodeUnreadable, true
	case errors.Is(err, storage.ErrCorrupt):
		return CodeCorrupt, true
	case errors.Is(err, storage.ErrInvalid):
		return CodeInvalid, true
	case errors.Is(err, signing.ErrRender), errors.Is(err, signing.ErrInvalid), errors.Is(err, signing.ErrNotPDF):
		// The e-result cannot be rendered, or our own output does not
		// verify: the same input fails the same way again.
		return CodeSigning, true
	}
	return "", false
}
