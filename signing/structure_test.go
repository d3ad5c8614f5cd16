package signing

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"testing"
	"time"

	"sohoa/internal/testenv"
)

// FuzzCheckStructure: the byte-level checks never panic and never accept a
// file whose ByteRange does not reach its end. The seeds include a real
// signed e-result (which passes) and tampered copies of it, so the fuzzer
// starts on the accept path, not only from inputs rejected at once.
func FuzzCheckStructure(f *testing.F) {
	seeds := [][]byte{
		[]byte("%PDF-1.7\n/ByteRange [0 10 20 5] /Contents <00>\n%%EOF\n"),
		[]byte("/ByteRange[0 1 2 3]"),
		[]byte("/ByteRange [0 99999999999 1 1]"),
		[]byte("/SubFilter /adbe.pkcs7.detached /Contents <3003020100> /ByteRange [0 55 67 9] %%EOF\n"),
		buildSigned(tinyCMS, "%%EOF\n"), // small and accepted
	}
	signed := signedSeed(f)
	seeds = append(seeds,
		signed,
		append(bytes.Clone(signed), "1 0 obj\n<<>>\nendobj\n%%EOF\n"...), // an appended revision
		signed[:len(signed)-8], // truncated
		bytes.Replace(signed, []byte("/ByteRange ["), []byte("/ByteRange[ "), 1),
	)
	accepted := 0
	for _, s := range seeds {
		if _, reasons := checkStructure(s); len(reasons) == 0 {
			accepted++
		}
		f.Add(s)
	}
	if _, reasons := checkStructure(signed); len(reasons) > 0 || len(seeds) < 9 || accepted < 2 {
		f.Fatalf("%d seeds, %d of them accepted (genuine signed file: %v); want at least 9, the genuine file among those accepted", len(seeds), accepted, reasons)
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
			if _, err := scanBER(st.cms, maxCMSDepth, maxCMSElements); err != nil || len(st.cms) > maxCMSBytes || st.overLimit {
				t.Fatalf("accepted a CMS past the bounds (%d bytes): %v", len(st.cms), err)
			}
		}
	})
}

// signedSeed renders a one-page e-result from a small synthetic scan and
// signs it with throwaway dev keys (a few kilobytes, so fuzzing stays
// fast).
func signedSeed(f testing.TB) []byte {
	f.Helper()
	keys, err := EnsureDevKeys(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	return signedSeedWith(f, keys)
}

// seedAt is the conversion and signing time of the seed e-result.
var seedAt = time.Date(2025, 7, 18, 2, 41, 7, 0, time.UTC)

// signedSeedWith is signedSeed signed with keys.
func signedSeedWith(f testing.TB, keys *Keys) []byte {
	f.Helper()
	r, err := NewRenderer(RendererConfig{})
	if err != nil {
		testenv.Missing(f, fmt.Sprintf("renderer fonts: %v", err), "make deps installs fonts-liberation2")
	}
	img := image.NewGray(image.Rect(0, 0, 120, 170))
	for i := range img.Pix {
		img.Pix[i] = uint8(255 - i%7*20)
	}
	in := RenderInput{
		Pages: []Page{{Image: img, DPI: 72, Words: []Word{{Text: "Giấy", Box: image.Rect(10, 10, 40, 22)}}}},
		Meta: Metadata{
			Title: "Giấy khai sinh", ResultCode: "000.00.31.H29-250718-0042-KQ1", DossierCode: "000.00.31.H29-250718-0042",
			Agency: "UBND phường Hưng Phú", AgencyCode: "000.00.31.H29", ConvertedAt: seedAt,
			SourceSHA256: strings.Repeat("ab", 32), VerifyURL: "https://sohoa.example.vn/v/000.00.31.H29-250718-0042-KQ1?k=abc",
		},
	}
	pdf, err := r.Render(context.Background(), in)
	if err != nil {
		f.Fatalf("render seed: %v", err)
	}
	signed, err := Sign(context.Background(), pdf, keys, SignOptions{Name: "fuzz seed", Time: seedAt})
	if err != nil {
		f.Fatalf("sign seed: %v", err)
	}
	return signed
}

// tinyCMS is SEQUENCE{INTEGER 0} with zero padding: DER the structure
// checks accept as a CMS blob.
const tinyCMS = "<3003020100" + "0000>"

// buildSigned is a minimal file with one signature dictionary whose
// ByteRange excludes exactly contents, followed by tail.
func buildSigned(contents, tail string) []byte {
	const body = "%PDF-1.7\n<</Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 AAAA BBBB CCCC] /Contents "
	// Fix the ByteRange numbers once the layout is known (fixed width).
	b := []byte(body + contents + " >>\n" + tail)
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

func TestCheckStructureTable(t *testing.T) {
	build, cms := buildSigned, tinyCMS
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
