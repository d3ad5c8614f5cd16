package signing

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// pdfWriter assembles a PDF with a classic cross-reference table. Objects are
// numbered in allocation order and serialised deterministically.
type pdfWriter struct {
	objs [][]byte // index i holds object i+1
}

func (w *pdfWriter) alloc() int {
	w.objs = append(w.objs, nil)
	return len(w.objs)
}

func (w *pdfWriter) set(n int, body string) {
	w.objs[n-1] = []byte(body)
}

func (w *pdfWriter) add(body string) int {
	n := w.alloc()
	w.set(n, body)
	return n
}

// setStream stores a stream object; dict holds the dictionary entries without
// << >> and without /Length. When compress is true the data is Flate-encoded.
func (w *pdfWriter) setStream(n int, dict string, data []byte, compress bool) {
	if compress {
		data = deflate(data)
		dict += " /Filter /FlateDecode"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<<%s /Length %d>>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	w.objs[n-1] = b.Bytes()
}

// deflate is data zlib-compressed, as a FlateDecode stream holds it.
func deflate(data []byte) []byte { return deflateLevel(data, zlib.DefaultCompression) }

// deflateLevel is deflate at a zlib level: BestSpeed for the streams made
// anew for every e-result (font subsets), whose few extra bytes cost less
// than the CPU time of a denser compression.
func deflateLevel(data []byte, level int) []byte {
	var b bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&b, level)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return b.Bytes()
}

// addFlate adds a stream whose data is already deflated (a constant the
// renderer compressed once).
func (w *pdfWriter) addFlate(dict string, zdata []byte) int {
	return w.addStream(dict+" /Filter /FlateDecode", zdata, false)
}

func (w *pdfWriter) addStream(dict string, data []byte, compress bool) int {
	n := w.alloc()
	w.setStream(n, dict, data, compress)
	return n
}

// bytes serialises the document. The file ID is derived from the content so
// the same input always gives the same bytes.
func (w *pdfWriter) bytes(root, info int) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(w.objs))
	h := sha256.New()
	for i, o := range w.objs {
		if o == nil {
			return nil, fmt.Errorf("pdf object %d was allocated but never written", i+1)
		}
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		b.Write(o)
		b.WriteString("\nendobj\n")
		h.Write(o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(w.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	id := fmt.Sprintf("%X", h.Sum(nil)[:16])
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>]>>\nstartxref\n%d\n%%%%EOF\n",
		len(w.objs)+1, root, info, id, id, xref)
	return b.Bytes(), nil
}

// pdfNum formats a number compactly with at most 4 decimals.
func pdfNum(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// pdfTextString encodes s as a PDF text string: a literal for ASCII, else
// UTF-16BE with BOM in hex.
func pdfTextString(s string) string {
	ascii := true
	for _, r := range s {
		if r > 0x7e || r < 0x20 {
			ascii = false
			break
		}
	}
	if ascii {
		r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
		return "(" + r.Replace(s) + ")"
	}
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

// pdfName encodes s as a PDF name object.
func pdfName(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || strings.IndexByte("#()<>[]{}/%", c) >= 0 {
			fmt.Fprintf(&b, "#%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
