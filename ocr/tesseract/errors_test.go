package tesseract

import (
	"errors"
	"fmt"
	"testing"
)

// TestPermanentCodes pins the reason codes the pool's poison errors carry:
// the pipeline quarantines with them (pipeline.CodeOCRCrash and
// CodeOCRTimeout, pinned to the same strings in its classify test).
func TestPermanentCodes(t *testing.T) {
	type coder interface{ PermanentCode() string }
	for err, want := range map[error]string{ErrChildCrashed: "ocr_crash", ErrTimeout: "ocr_timeout"} {
		var c coder
		wrapped := fmt.Errorf("ocr scan.jpg: %w", err)
		if !errors.As(wrapped, &c) || c.PermanentCode() != want || !errors.Is(wrapped, err) {
			t.Errorf("%v: got code %v, want %q and errors.Is to hold", err, c, want)
		}
	}
	var c interface{ PermanentCode() string }
	if errors.As(ErrPoolClosed, &c) {
		t.Errorf("ErrPoolClosed carries code %q; want none (it is not the input's fault)", c.PermanentCode())
	}
}
