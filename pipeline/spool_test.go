package pipeline

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"sohoa/ocr"
	"sohoa/storage"
)

// fileRecognizer is a fakeRecognizer with a spool folder: the OCR stage
// streams the intake into one of its files (FileRecognizer).
type fileRecognizer struct {
	*fakeRecognizer
	dir  string
	seen [][]byte // the bytes of each file ProcessFile was given
	path []string
}

func (f *fileRecognizer) SpoolFile() (*os.File, error) { return os.CreateTemp(f.dir, "in-*") }

func (f *fileRecognizer) Process(context.Context, []byte, string, ocr.PageSink) ([]ocr.Page, error) {
	panic("the OCR stage gave the scan in memory to a recognizer that takes a file")
}

func (f *fileRecognizer) ProcessFile(ctx context.Context, path, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f.seen, f.path = append(f.seen, data), append(f.path, path)
	return f.fakeRecognizer.Process(ctx, data, name, sink)
}

// TestOCRStageSpoolsIntake: with a FileRecognizer the intake is streamed
// into its spool, recognised from there and the file removed after; the
// record is the one the in-memory path writes, and a signed input is
// still verified (from the file's bytes).
func TestOCRStageSpoolsIntake(t *testing.T) {
	for _, tc := range []struct {
		name, scan string
		signed     bool
	}{
		{"scan", "scan bytes of a large dossier", false},
		{"signed", "%PDF-1.7 ... /ByteRange [0 10 20 30] ...", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			fr := &fileRecognizer{fakeRecognizer: h.rec, dir: t.TempDir()}
			h.pipe.o.Recognizer = fr
			ctx := context.Background()
			sub, err := h.intake.Submit(ctx, []byte(tc.scan), storage.IntakeMeta{Name: "ho_so.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
			if err != nil {
				t.Fatal(err)
			}
			h.runAll(t)
			if len(fr.seen) != 1 || string(fr.seen[0]) != tc.scan || filepath.Dir(fr.path[0]) != fr.dir {
				t.Fatalf("recognised files %q at %v, want the scan once, in the spool %s", fr.seen, fr.path, fr.dir)
			}
			if left, _ := os.ReadDir(fr.dir); len(left) != 0 {
				t.Errorf("spool keeps %d files after the OCR stage", len(left))
			}
			var rec Record
			if err := h.repo.GetSealedJSON(ctx, storage.RecordKey(sub.InputKey), &rec); err != nil {
				t.Fatal(err)
			}
			if len(rec.Result.Documents) != 2 || (rec.Signature != nil) != tc.signed {
				t.Errorf("record: %d documents, signature %+v; want 2, signed %v", len(rec.Result.Documents), rec.Signature, tc.signed)
			}
		})
	}
}

// TestLooksSignedReader: read in blocks, a file looks signed exactly when
// its bytes do, a /ByteRange across two blocks included.
func TestLooksSignedReader(t *testing.T) {
	pad := strings.Repeat("x", 64<<10-7)
	for _, data := range []string{
		"", "%PDF", "%PDF-1.7", "%PDF-1.7 /ByteRange [0 1 2 3]", "%PDF-1.7 /Byte", "GIF89a /ByteRange",
		"%PDF-1.7" + pad + "/ByteRange", "%PDF-1.7" + pad[:len(pad)-3] + "/ByteRange", "%PDF-1.7" + pad + "/ByteRang",
		"%PDF-1.7" + pad + pad + "/ByteRange",
	} {
		want := LooksSigned([]byte(data))
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader,
		} {
			got, err := LooksSignedReader(wrap(bytes.NewReader([]byte(data))))
			if err != nil || got != want {
				t.Errorf("%d bytes %.20q…: LooksSignedReader = %v, %v; LooksSigned %v", len(data), data, got, err, want)
			}
		}
	}
}
