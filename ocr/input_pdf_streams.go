package ocr

import (
	"bytes"
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pdfStreams keeps the page images of a lazily opened PDF out of memory
// until a page is wanted. pdfcpu reads the bytes of every stream when it
// opens a file (a 44 MB colour dossier is 44 MB of image streams held for
// as long as the file is open), in its object table and, for images, in
// the copy its optimisation pass keeps (Optimize.ImageObjects, which
// page image extraction reads); the streams listed here are dropped from
// both once the file is read and read back from the file, one at a time,
// when their page is extracted (load), then dropped again (drop).
type pdfStreams struct {
	pctx *model.Context
	src  io.ReaderAt
	at   map[int]streamSpan // object number: where its bytes are in src
}

// streamSpan is where a stream's encoded bytes are in the file.
type streamSpan struct {
	off int64
	n   int
}

// dropPDFStreams drops the bytes of the stream objects objNrs that are
// found in src exactly as pdfcpu holds them (so not an encrypted file's,
// which pdfcpu holds decrypted, nor a repaired one's): those are read
// back as they were. Other streams stay as they are.
func dropPDFStreams(pctx *model.Context, src io.ReaderAt, objNrs []int) *pdfStreams {
	s := &pdfStreams{pctx: pctx, src: src, at: map[int]streamSpan{}}
	xt := pctx.XRefTable
	buf := make([]byte, 64<<10)
	for _, nr := range objNrs {
		if _, done := s.at[nr]; done || nr == 0 {
			continue
		}
		entry, ok := xt.Table[nr]
		if !ok || entry == nil || entry.Compressed {
			continue
		}
		sd, ok := entry.Object.(types.StreamDict)
		if !ok || len(sd.Raw) == 0 || sd.StreamOffset <= 0 {
			continue
		}
		if !sameBytes(src, sd.StreamOffset, sd.Raw, buf) {
			continue
		}
		if pctx.Optimize != nil {
			if im := pctx.Optimize.ImageObjects[nr]; im != nil && im.ImageDict != nil && !bytes.Equal(im.ImageDict.Raw, sd.Raw) {
				continue
			}
		}
		s.at[nr] = streamSpan{off: sd.StreamOffset, n: len(sd.Raw)}
		s.set(nr, nil)
	}
	return s
}

// set makes raw the bytes of stream objNr, in the object table and in the
// optimisation pass's copy.
func (s *pdfStreams) set(objNr int, raw []byte) {
	if entry, ok := s.pctx.XRefTable.Table[objNr]; ok && entry != nil {
		if sd, ok := entry.Object.(types.StreamDict); ok {
			sd.Raw, sd.Content = raw, nil
			entry.Object = sd
		}
	}
	if s.pctx.Optimize == nil {
		return
	}
	if im := s.pctx.Optimize.ImageObjects[objNr]; im != nil && im.ImageDict != nil {
		im.ImageDict.Raw, im.ImageDict.Content = raw, nil
	}
}

// sameBytes reports whether src holds want at off.
func sameBytes(src io.ReaderAt, off int64, want, buf []byte) bool {
	for len(want) > 0 {
		n := min(len(buf), len(want))
		if _, err := src.ReadAt(buf[:n], off); err != nil {
			return false
		}
		if !bytes.Equal(buf[:n], want[:n]) {
			return false
		}
		want, off = want[n:], off+int64(n)
	}
	return true
}

// load reads the bytes of a dropped stream back into pdfcpu's table.
func (s *pdfStreams) load(objNr int) error {
	sp, ok := s.at[objNr]
	if !ok {
		return nil
	}
	raw := make([]byte, sp.n)
	if _, err := s.src.ReadAt(raw, sp.off); err != nil {
		return fmt.Errorf("read object %d: %w", objNr, err)
	}
	s.set(objNr, raw)
	return nil
}

// drop lets the bytes of a stream load read back go again.
func (s *pdfStreams) drop(objNr int) {
	if _, ok := s.at[objNr]; ok {
		s.set(objNr, nil)
	}
}
