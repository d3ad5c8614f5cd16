package signing

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheckStructure: the byte-level checks never panic and never accept a
// file whose ByteRange does not reach its end.
func FuzzCheckStructure(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n/ByteRange [0 10 20 5] /Contents <00>\n%%EOF\n"))
	f.Add([]byte("/ByteRange[0 1 2 3]"))
	f.Add([]byte("/ByteRange [0 99999999999 1 1]"))
	f.Add([]byte("/SubFilter /adbe.pkcs7.detached /Contents <3003020100> /ByteRange [0 55 67 9] %%EOF\n"))
	if seeds, _ := filepath.Glob(filepath.Join("testdata", "*.pdf")); len(seeds) > 0 {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, reasons := checkStructure(data)
		if len(reasons) == 0 {
			br := st.byteRange
			if br[0] != 0 || br[2]+br[3] != int64(len(data)) || br[1] >= br[2] {
				t.Fatalf("accepted bad ByteRange %v for %d bytes", br, len(data))
			}
			if len(st.cms) == 0 {
				t.Fatalf("accepted structure without CMS")
			}
		}
	})
}

func TestCheckStructureTable(t *testing.T) {
	body := "%PDF-1.7\n<</Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 AAAA BBBB CCCC] /Contents "
	build := func(contents, tail string) []byte {
		// Fix the ByteRange numbers once the layout is known (fixed width).
		s := body + contents + " >>\n" + tail
		b := []byte(s)
		start := bytes.Index(b, []byte("/Contents ")) + len("/Contents ")
		end := start + len(contents)
		set := func(ph string, v int) {
			i := bytes.Index(b, []byte(ph))
			copy(b[i:i+4], []byte(pad4(v)))
		}
		set("AAAA", start)
		set("BBBB", end)
		set("CCCC", len(b)-end)
		return b
	}
	cms := "<3003020100" + "0000>" // SEQUENCE{INTEGER 0} + zero padding
	tests := []struct {
		name  string
		data  []byte
		valid bool
	}{
		{"well formed", build(cms, "%%EOF\n"), true},
		{"no EOF", build(cms, "xx\n"), false},
		{"two EOF", build(cms, "%%EOF\n%%EOF\n"), false},
		{"padding not zero", build("<30030201000001>", "%%EOF\n"), false},
		{"not hex", build("<300302010z>", "%%EOF\n"), false},
		{"not DER", build("<ffff>", "%%EOF\n"), false},
		{"no signature", []byte("%PDF-1.7\n%%EOF\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, reasons := checkStructure(tc.data)
			if got := len(reasons) == 0; got != tc.valid {
				t.Errorf("got valid=%v (reasons %v), want %v", got, reasons, tc.valid)
			}
		})
	}
}

func pad4(v int) string { return fmt.Sprintf("%04d", min(v, 9999)) }

func TestImageMatrix(t *testing.T) {
	// A 100x200 pt image rotated 90° clockwise must fill a 200x100 pt page.
	g := geometry{scale: 1, w: 200, h: 100, iw: 100, ih: 200, theta: -math.Pi / 2}
	m := g.imageMatrix()
	corners := [][2]float64{{0, 0}, {1, 0}, {0, 1}, {1, 1}}
	for _, c := range corners {
		x := m[0]*c[0] + m[2]*c[1] + m[4]
		y := m[1]*c[0] + m[3]*c[1] + m[5]
		if x < -1e-9 || x > 200+1e-9 || y < -1e-9 || y > 100+1e-9 {
			t.Errorf("corner %v maps to (%v, %v), want inside the 200x100 page", c, x, y)
		}
	}
	// Top-left of the upright image (unit (0,1)) goes to the top-right of the page.
	if x, y := m[2]+m[4], m[3]+m[5]; math.Abs(x-200) > 1e-9 || math.Abs(y-100) > 1e-9 {
		t.Errorf("image top-left: got (%v, %v), want (200, 100)", x, y)
	}
}

func TestVerifyTokenAndURL(t *testing.T) {
	tok := VerifyToken([]byte("key"), "X-KQ1")
	if len(tok) != 12 {
		t.Errorf("token length: got %d, want 12", len(tok))
	}
	if tok == VerifyToken([]byte("other"), "X-KQ1") {
		t.Errorf("tokens with different keys are equal")
	}
	if got, want := VerifyURL("https://h/", "A B-KQ1", tok), "https://h/v/A%20B-KQ1?k="+tok; got != want {
		t.Errorf("VerifyURL: got %q, want %q", got, want)
	}
}
