// This file owns reading the embedded data document back out of an
// e-result: the associated file Render wrote as DataFileName.

package signing

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/digitorus/pdf"
)

// ErrNoData: the PDF carries no embedded data document (a result rendered
// before the data was attached).
var ErrNoData = errors.New("no embedded data document")

// maxDataBytes bounds the embedded data document read back.
const maxDataBytes = 1 << 20

// EmbeddedData returns the bytes of the data document embedded in pdf (the
// EmbeddedFiles entry DataFileName, as pdfdetach extracts it). It parses
// the file in process: use it on our own stored, checksummed results, not
// on uploads. A PDF without one gives ErrNoData.
func EmbeddedData(data []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("embedded data: pdf reader panicked: %v", r)
		}
	}()
	rdr, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("embedded data: %w", err)
	}
	names := rdr.Trailer().Key("Root").Key("Names").Key("EmbeddedFiles").Key("Names")
	for i := 0; i+1 < names.Len(); i += 2 {
		if names.Index(i).Text() != DataFileName {
			continue
		}
		f := names.Index(i + 1).Key("EF").Key("F")
		if f.Kind() != pdf.Stream {
			return nil, fmt.Errorf("embedded data: %s has no embedded file stream", DataFileName)
		}
		rc := f.Reader()
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxDataBytes+1))
		switch {
		case err != nil:
			return nil, fmt.Errorf("embedded data: read %s: %w", DataFileName, err)
		case len(b) > maxDataBytes:
			return nil, fmt.Errorf("embedded data: %s exceeds %d bytes", DataFileName, maxDataBytes)
		}
		return b, nil
	}
	return nil, ErrNoData
}
