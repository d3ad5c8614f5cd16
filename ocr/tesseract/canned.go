package tesseract

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sohoa/ocr"
)

// CannedSuffix names the files of a canned-answer folder.
const CannedSuffix = ".ocr.json"

// CannedAnswer is one canned OCR answer: what a child would have answered
// for a file (pages with words, page images), or the failure it would have
// reported (ErrKind as the protocol names it: "unreadable", "too_large"…).
type CannedAnswer struct {
	Pages   []ocr.Page   `json:"pages,omitempty"`
	Images  []CannedPage `json:"images,omitempty"`
	ErrKind string       `json:"err_kind,omitempty"`
	ErrMsg  string       `json:"err_msg,omitempty"`
}

// CannedPage is one page image of a canned answer.
type CannedPage struct {
	Number int     `json:"number"`
	Data   []byte  `json:"data"`
	Format string  `json:"format"`
	DPI    float64 `json:"dpi"`
}

// WriteCannedAnswer stores a under dir as name + CannedSuffix. An answer
// named after the lowercase hex SHA-256 of a file answers that file; the
// others answer every file with no answer of its own, picked by the file's
// hash.
func WriteCannedAnswer(dir, name string, a CannedAnswer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("canned answer %s: %w", name, err)
	}
	return os.WriteFile(filepath.Join(dir, name+CannedSuffix), b, 0o644)
}

// cannedHandler answers from a folder of canned answers, deterministically
// from the input's SHA-256: its own answer if there is one, else one of the
// generic ones; after 50–500 ms (also from the hash), as a stand-in for
// recognition time. It decodes nothing.
type cannedHandler struct {
	own     map[string]CannedAnswer
	generic []CannedAnswer
}

func newCannedHandler(dir string) (*cannedHandler, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+CannedSuffix))
	if err != nil {
		return nil, fmt.Errorf("canned answers: %w", err)
	}
	sort.Strings(names)
	h := &cannedHandler{own: map[string]CannedAnswer{}}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("canned answers: %w", err)
		}
		var a CannedAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("canned answer %s: %w", filepath.Base(n), err)
		}
		base := strings.TrimSuffix(filepath.Base(n), CannedSuffix)
		if _, err := hex.DecodeString(base); err == nil && len(base) == 64 {
			h.own[base] = a
		} else {
			h.generic = append(h.generic, a)
		}
	}
	if len(h.own)+len(h.generic) == 0 {
		return nil, fmt.Errorf("canned answers: none in %s", dir)
	}
	return h, nil
}

func (h *cannedHandler) release() {}

// handle answers req's pages from the file's answer; the stand-in for
// recognition time is taken once per file, on the request of its first
// page.
func (h *cannedHandler) handle(ctx context.Context, req childRequest, send func(childMsg) error) error {
	data, err := readInput(req, 0)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	a, ok := h.own[hex.EncodeToString(sum[:])]
	if !ok {
		if len(h.generic) == 0 {
			return fmt.Errorf("%s: no canned answer: %w", req.Name, ocr.ErrUnreadable)
		}
		a = h.generic[binary.BigEndian.Uint64(sum[:8])%uint64(len(h.generic))]
	}
	if req.From <= 1 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50+int(binary.BigEndian.Uint16(sum[8:10]))%451) * time.Millisecond):
		}
	}
	if a.ErrKind != "" {
		return remoteErr(a.ErrKind, req.Name+": "+a.ErrMsg)
	}
	if err := send(childMsg{PageCount: len(a.Pages)}); err != nil {
		return err
	}
	lo, hi := pageRange(req, len(a.Pages))
	for i := lo; i < hi; i++ {
		m := childMsg{Page: &a.Pages[i], Stages: Stages{}}
		if i < len(a.Images) {
			p := a.Images[i]
			m.Image = wireImage{Number: p.Number, Data: p.Data, Format: p.Format, DPI: p.DPI}
		} else {
			m.Image = wireImage{Number: a.Pages[i].Number}
		}
		if err := send(m); err != nil {
			return err
		}
	}
	return nil
}
