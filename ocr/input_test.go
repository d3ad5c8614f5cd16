package ocr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"sohoa/internal/testenv"
)

var updateInputGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

// inputCorpusDir returns the shared corpus directory (SOHOA_CORPUS overrides
// the default); it skips the test when absent, or fails it in strict mode.
func inputCorpusDir(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("SOHOA_CORPUS")
	if root == "" {
		root = "../../shared/corpus" // ../shared beside the checkout
	}
	return testenv.MustHaveFile(t, filepath.Join(root, sub), "the corpus is ../shared/corpus beside the checkout (or set SOHOA_CORPUS)")
}

func sentinelName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{ErrEmpty, "ErrEmpty"}, {ErrTooLarge, "ErrTooLarge"}, {ErrUnreadable, "ErrUnreadable"},
		{ErrEncrypted, "ErrEncrypted"}, {ErrUnsupported, "ErrUnsupported"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "other"
}

func TestOpenBadCorpus(t *testing.T) {
	dir := inputCorpusDir(t, "bad")
	longName := "" // the 249-byte Vietnamese name, found by prefix
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "ho_so_") {
			longName = e.Name()
		}
	}
	tests := []struct {
		file       string
		want       string // sentinel name or "ok"
		pages      int    // when ok
		degenerate []int
		active     bool
		warning    bool
		maxTime    time.Duration
	}{
		{file: "empty.pdf", want: "ErrEmpty"},
		{file: "truncated.jpg", want: "ErrUnreadable"},
		{file: "bomb_50000x50000.png", want: "ErrTooLarge", maxTime: 200 * time.Millisecond},
		{file: "corrupted.pdf", want: "ErrUnreadable"},
		{file: "encrypted_user_password.pdf", want: "ErrEncrypted"},
		{file: "javascript.pdf", want: "ok", pages: 1, active: true},
		{file: "page2_is_1x1_image.pdf", want: "ok", pages: 2, degenerate: []int{2}},
		{file: "blank_page.jpg", want: "ok", pages: 1},
		{file: "not_a_document_noise.jpg", want: "ok", pages: 1},
		{file: "actually_a_zip.pdf", want: "ErrUnsupported"},
		{file: "path_traversal.zip", want: "ErrUnsupported"},
		{file: longName, want: "ok", pages: 1},
		{file: "text_renamed.jpg", want: "ErrUnsupported"},
		{file: "zero_pages.tif", want: "ErrEmpty"},
		{file: "zero_pages.pdf", want: "ErrEmpty"},
		{file: "png_named_as.tif", want: "ok", pages: 1, warning: true},
		{file: "truncated_multipage.tif", want: "ErrUnreadable"},
	}
	var golden strings.Builder
	for _, tt := range tests {
		t.Run(InputLabel(tt.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			scan, err := OpenScan(context.Background(), data, tt.file, DefaultLimits())
			elapsed := time.Since(start)
			if got := sentinelName(err); got != tt.want {
				t.Fatalf("OpenScan(%s) error = %v (%s), want %s", tt.file, err, got, tt.want)
			}
			if tt.maxTime > 0 && elapsed > tt.maxTime {
				t.Errorf("OpenScan(%s) took %v, want under %v (must refuse before decoding)", tt.file, elapsed, tt.maxTime)
			}
			if err != nil {
				label := InputLabel(tt.file)
				if !strings.HasPrefix(err.Error(), label+": ") {
					t.Errorf("error %q does not start with the file label %q", err, label)
				}
				fmt.Fprintf(&golden, "%s: %v\n", tt.file, err)
				return
			}
			if got := len(scan.Pages); got != tt.pages {
				t.Fatalf("got %d pages, want %d", got, tt.pages)
			}
			if got, want := fmt.Sprint(scan.Degenerate), fmt.Sprint(tt.degenerate); got != want && !(len(scan.Degenerate) == 0 && len(tt.degenerate) == 0) {
				t.Errorf("got degenerate pages %s, want %s", got, want)
			}
			if got := len(scan.ActiveContent) > 0; got != tt.active {
				t.Errorf("got active content %v, want present=%v", scan.ActiveContent, tt.active)
			}
			if got := len(scan.Warnings) > 0; got != tt.warning {
				t.Errorf("got warnings %q, want present=%v", scan.Warnings, tt.warning)
			}
			for _, p := range scan.Pages {
				checkPageImage(t, p)
			}
			fmt.Fprintf(&golden, "%s: ok %s %s active=%v degenerate=%v warnings=%q\n",
				InputLabel(tt.file), scan.Format, pageSummary(scan.Pages), scan.ActiveContent, scan.Degenerate, scan.Warnings)
		})
	}
	checkInputGolden(t, "bad_corpus.golden", golden.String())
}

func pageSummary(pages []PageImage) string {
	var parts []string
	for _, p := range pages {
		b := p.Image.Bounds()
		parts = append(parts, fmt.Sprintf("p%d=%dx%d/%s/%gdpi", p.Number, b.Dx(), b.Dy(), p.Format, p.DPI))
	}
	return strings.Join(parts, ",")
}

// checkPageImage checks a page's encoded Data decodes to the same size as
// its Image and its format is what Format says.
func checkPageImage(t *testing.T, p PageImage) {
	t.Helper()
	if p.Image == nil {
		t.Fatalf("page %d: nil Image", p.Number)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
	if err != nil {
		t.Fatalf("page %d: Data does not decode: %v", p.Number, err)
	}
	if format != p.Format {
		t.Errorf("page %d: Data is %s, Format says %s", p.Number, format, p.Format)
	}
	b := p.Image.Bounds()
	if cfg.Width != b.Dx() || cfg.Height != b.Dy() {
		t.Errorf("page %d: Data is %dx%d, Image is %dx%d", p.Number, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	if p.DPI <= 0 {
		t.Errorf("page %d: got DPI %g, want > 0", p.Number, p.DPI)
	}
}

func checkInputGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "input", name)
	if *updateInputGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch (run with -update if intended)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

type inputManifest struct {
	Files []struct {
		File   string `json:"file"`
		Format string `json:"format"`
		Pages  int    `json:"pages"`
		DPI    int    `json:"dpi"`
	} `json:"files"`
}

func TestOpenDevCorpus(t *testing.T) {
	dir := inputCorpusDir(t, "dev")
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m inputManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) == 0 {
		t.Fatal("manifest lists no files")
	}
	var golden strings.Builder
	for _, f := range m.Files {
		t.Run(f.File, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, f.File))
			if err != nil {
				t.Fatal(err)
			}
			scan, err := OpenScan(context.Background(), data, f.File, DefaultLimits())
			if err != nil {
				t.Fatalf("OpenScan: %v", err)
			}
			if got, want := len(scan.Pages), f.Pages; got != want {
				t.Fatalf("got %d pages, want %d", got, want)
			}
			if got, want := scan.Format, f.Format; got != want {
				t.Errorf("got format %s, want %s", got, want)
			}
			for _, p := range scan.Pages {
				checkPageImage(t, p)
				if got, want := p.DPI, float64(f.DPI); got != want {
					t.Errorf("page %d: got DPI %g, want %g", p.Number, got, want)
				}
				if f.Format == "jpeg" && !bytes.Equal(p.Data, data) {
					t.Errorf("page %d: JPEG Data is not the original bytes", p.Number)
				}
			}
			if len(scan.Degenerate) != 0 || len(scan.ActiveContent) != 0 || len(scan.Warnings) != 0 {
				t.Errorf("got degenerate=%v active=%v warnings=%q, want none", scan.Degenerate, scan.ActiveContent, scan.Warnings)
			}
			fmt.Fprintf(&golden, "%s: %s %s\n", f.File, scan.Format, pageSummary(scan.Pages))
		})
	}
	checkInputGolden(t, "dev_corpus.golden", golden.String())
}

// makeInputTIFF encodes n grey pages and chains them into one multi-page
// little-endian TIFF by linking the IFDs of single-page encodings.
func makeInputTIFF(t testing.TB, n, w, h int) []byte {
	t.Helper()
	var out []byte
	var lastNextPtr int
	for i := 0; i < n; i++ {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for p := range img.Pix {
			img.Pix[p] = uint8(40 * (i + 1))
		}
		var buf bytes.Buffer
		if err := tiff.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
		page := buf.Bytes()
		base := len(out)
		if i == 0 {
			out = append(out, page...)
		} else {
			// Relocate: append the page body and rewrite its offsets.
			out = append(out, page[8:]...)
			base -= 8
		}
		dirs, err := parseTIFFDirs(page, 0)
		if err != nil {
			t.Fatal(err)
		}
		ifd := int(dirs[0].offset)
		if i > 0 {
			relocateTIFFDir(t, out, ifd+base, base)
			putLE32(out[lastNextPtr:], uint32(ifd+base))
		}
		cnt := int(out[ifd+base]) | int(out[ifd+base+1])<<8
		lastNextPtr = ifd + base + 2 + 12*cnt
	}
	return out
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func getLE32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// relocateTIFFDir adds delta to every out-of-line value offset and to the
// strip offsets of the IFD at off (little-endian, as tiff.Encode writes).
func relocateTIFFDir(t testing.TB, buf []byte, off, delta int) {
	t.Helper()
	cnt := int(buf[off]) | int(buf[off+1])<<8
	for i := 0; i < cnt; i++ {
		e := buf[off+2+12*i:]
		tag := int(e[0]) | int(e[1])<<8
		typ := uint16(e[2]) | uint16(e[3])<<8
		count := int(getLE32(e[4:]))
		total := tiffTypeSize(typ) * count
		if total > 4 {
			putLE32(e[8:], getLE32(e[8:])+uint32(delta))
		}
		if tag == tiffTagStripOffsets {
			if total > 4 {
				vo := int(getLE32(e[8:]))
				for k := 0; k < count; k++ {
					putLE32(buf[vo+4*k:], getLE32(buf[vo+4*k:])+uint32(delta))
				}
			} else {
				putLE32(e[8:], getLE32(e[8:])+uint32(delta))
			}
		}
	}
}

func TestOpenMultiPageTIFF(t *testing.T) {
	data := makeInputTIFF(t, 3, 120, 90)
	pages, err := Open(context.Background(), data, "multi.tif", DefaultLimits())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, want := len(pages), 3; got != want {
		t.Fatalf("got %d pages, want %d", got, want)
	}
	for i, p := range pages {
		g, ok := p.Image.(*image.Gray)
		if !ok {
			t.Fatalf("page %d: got %T, want *image.Gray", i+1, p.Image)
		}
		if got, want := g.GrayAt(5, 5).Y, uint8(40*(i+1)); got != want {
			t.Errorf("page %d: got pixel %d, want %d (wrong page decoded)", i+1, got, want)
		}
		checkPageImage(t, p)
	}

	t.Run("page limit", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxPages = 2
		_, err := Open(context.Background(), data, "multi.tif", lim)
		if got, want := sentinelName(err), "ErrTooLarge"; got != want {
			t.Fatalf("got %v (%s), want %s", err, got, want)
		}
	})
	t.Run("truncated last page", func(t *testing.T) {
		dirs, err := parseTIFFDirs(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		last := int(dirs[len(dirs)-1].offset)
		// tiff.Encode writes pixel data before the IFD: a cut inside the
		// last page's data loses its directory too.
		_, err = Open(context.Background(), data[:last-100], "multi.tif", DefaultLimits())
		if got, want := sentinelName(err), "ErrUnreadable"; got != want {
			t.Fatalf("cut before last IFD: got %v (%s), want %s", err, got, want)
		}
		// Strip byte count pointing past the end of the file.
		cut := bytes.Clone(data)
		cnt := int(cut[last]) | int(cut[last+1])<<8
		for i := 0; i < cnt; i++ {
			e := cut[last+2+12*i:]
			if int(e[0])|int(e[1])<<8 == tiffTagStripByteCount {
				putLE32(e[8:], 1<<30)
			}
		}
		_, err = Open(context.Background(), cut, "multi.tif", DefaultLimits())
		if got, want := sentinelName(err), "ErrUnreadable"; got != want {
			t.Fatalf("strip beyond end: got %v (%s), want %s", err, got, want)
		}
		if !strings.Contains(err.Error(), "page 3 data missing") {
			t.Errorf("got %q, want it to name page 3 data missing", err)
		}
	})
	t.Run("directory loop", func(t *testing.T) {
		loop := bytes.Clone(data)
		dirs, _ := parseTIFFDirs(loop, 0)
		first := dirs[0].offset
		lastOff := int(dirs[len(dirs)-1].offset)
		cnt := int(loop[lastOff]) | int(loop[lastOff+1])<<8
		putLE32(loop[lastOff+2+12*cnt:], first)
		_, err := Open(context.Background(), loop, "loop.tif", DefaultLimits())
		if got, want := sentinelName(err), "ErrUnreadable"; got != want {
			t.Fatalf("got %v (%s), want %s", err, got, want)
		}
	})
}

func encodeInputPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenLimitsAndSniffing(t *testing.T) {
	small := image.NewGray(image.Rect(0, 0, 200, 100))
	pngData := encodeInputPNG(t, small)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 100, 80)), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"png ok", pngData, DefaultLimits(), "ok"},
		{"png over pixel limit", pngData, Limits{MaxPixels: 199 * 100}, "ErrTooLarge"},
		{"png over byte limit", pngData, Limits{MaxBytes: int64(len(pngData) - 1)}, "ErrTooLarge"},
		{"png truncated", pngData[:len(pngData)/2], DefaultLimits(), "ErrUnreadable"},
		{"jpeg ok", jb.Bytes(), DefaultLimits(), "ok"},
		{"jpeg cut before EOI", jb.Bytes()[:jb.Len()-2], DefaultLimits(), "ErrUnreadable"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), DefaultLimits(), "ErrUnsupported"},
		{"binary junk", []byte{0, 1, 2, 3, 0xfe, 0xfd}, DefaultLimits(), "ErrUnsupported"},
		{"pdf header only", []byte("%PDF-1.7\n"), DefaultLimits(), "ErrUnreadable"},
		{"tiff header only", []byte("II*\x00"), DefaultLimits(), "ErrUnreadable"},
		{"tiff ifd beyond end", []byte("II*\x00\xff\x00\x00\x00"), DefaultLimits(), "ErrUnreadable"},
		{"empty", nil, DefaultLimits(), "ErrEmpty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.data, "x.bin", tt.lim)
			if got := sentinelName(err); got != tt.want {
				t.Errorf("got %v (%s), want %s", err, got, tt.want)
			}
		})
	}
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, encodeInputPNG(t, image.NewGray(image.Rect(0, 0, 10, 10))), "a.png", DefaultLimits())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestInputLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/tmp/x/scan_0007.tif", "scan_0007.tif"},
		{"ho_so_001099872198.jpg", "ho_so_********2198.jpg"},
		{"12345678901.png", "12345678901.png"},
		{"", "input"},
		{strings.Repeat("ễ", 60) + ".jpg", strings.Repeat("ễ", 26) + "…"},
	}
	for _, tt := range tests {
		if got := InputLabel(tt.in); got != tt.want {
			t.Errorf("InputLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadDPI(t *testing.T) {
	// JFIF with 200 dpi.
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	j := jb.Bytes()
	jfif := append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1, 0, 200, 0, 200, 0, 0}, j[2:]...)
	if got, want := jfifDPI(jfif), 200.0; got != want {
		t.Errorf("jfifDPI = %g, want %g", got, want)
	}
	if got, want := jfifDPI(j), 0.0; got != want {
		t.Errorf("jfifDPI(no APP0) = %g, want %g", got, want)
	}
	// A pHYs chunk of 11811 px/m is 300 dpi (rounded).
	p := encodeInputPNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	phys := []byte{0, 0, 0, 9, 'p', 'H', 'Y', 's', 0, 0, 0x2e, 0x23, 0, 0, 0x2e, 0x23, 1, 0, 0, 0, 0}
	withPhys := append(append(bytes.Clone(p[:33]), phys...), p[33:]...)
	if got := pngDPI(withPhys); got < 299.9 || got > 300.1 {
		t.Errorf("pngDPI = %g, want 300", got)
	}
	if got, want := pngDPI(p), 0.0; got != want {
		t.Errorf("pngDPI(no pHYs) = %g, want %g", got, want)
	}
}

func TestIsDegenerate(t *testing.T) {
	tests := []struct {
		w, h int
		want bool
	}{{1, 1, true}, {63, 500, true}, {64, 64, false}, {1654, 2339, false}}
	for _, tt := range tests {
		p := PageImage{Image: image.NewGray(image.Rect(0, 0, tt.w, tt.h))}
		if got := IsDegenerate(p); got != tt.want {
			t.Errorf("IsDegenerate(%dx%d) = %v, want %v", tt.w, tt.h, got, tt.want)
		}
	}
	if got := IsDegenerate(PageImage{}); !got {
		t.Errorf("IsDegenerate(nil image) = false, want true")
	}
}

// FuzzOpen checks Open never panics and stays within its limits on arbitrary
// bytes. Seeds: the small files under testdata/input/ plus synthetic ones.
func FuzzOpen(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "input", "seed_*"))
	if len(seeds) < 4 {
		f.Fatalf("%d seed files match testdata/input/seed_*, want the 4 committed (G4 TIFF, PDF with JS, JPEG, zero-page PDF)", len(seeds))
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(encodeInputPNG(f, image.NewGray(image.Rect(0, 0, 16, 16))))
	f.Add(makeInputTIFF(f, 2, 16, 16))
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxPages: 8, MaxTotalPixels: 4 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		scan, err := OpenScan(ctx, data, "fuzz.bin", lim)
		if err != nil {
			if sentinelName(err) == "other" && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(scan.Pages) == 0 || len(scan.Pages) > lim.MaxPages {
			t.Fatalf("got %d pages, want 1..%d", len(scan.Pages), lim.MaxPages)
		}
		for _, p := range scan.Pages {
			b := p.Image.Bounds()
			if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
				t.Fatalf("page %d is %v, over the pixel limit", p.Number, b)
			}
			if len(p.Data) == 0 {
				t.Fatalf("page %d has no Data", p.Number)
			}
		}
	})
}

// TestEncodePagePNGBitonal: a bitonal grey page is written as a 1-bit PNG
// that decodes back to the same pixels; a page with grey levels stays
// 8-bit.
func TestEncodePagePNGBitonal(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, r := range []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(0, 0, 13, 7), image.Rect(0, 0, 64, 3), image.Rect(5, 2, 100, 41)} {
		g := image.NewGray(r)
		for i := range g.Pix {
			g.Pix[i] = uint8(255 * rng.IntN(2))
		}
		data, err := encodePagePNG(g)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if data[24] != 1 || cfg.Width != r.Dx() || cfg.Height != r.Dy() {
			t.Errorf("%v: bit depth %d, %d×%d, want 1-bit %d×%d", r, data[24], cfg.Width, cfg.Height, r.Dx(), r.Dy())
		}
		back, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		bg, ok := back.(*image.Gray)
		if !ok {
			t.Fatalf("%v: decoded %T, want *image.Gray", r, back)
		}
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				if got, want := bg.GrayAt(x, y).Y, g.GrayAt(r.Min.X+x, r.Min.Y+y).Y; got != want {
					t.Fatalf("%v: pixel (%d,%d) = %d, want %d", r, x, y, got, want)
				}
			}
		}
	}
	for _, tc := range []struct{ w, at int }{{4, 5}, {20, 3*20 + 9}, {20, 3*20 + 17}} {
		grey := image.NewGray(image.Rect(0, 0, tc.w, 4))
		grey.Pix[tc.at] = 128
		data, err := encodePagePNG(grey)
		if err != nil {
			t.Fatal(err)
		}
		if data[24] != 8 {
			t.Errorf("grey page %d wide, grey at %d: bit depth %d, want 8", tc.w, tc.at, data[24])
		}
	}
}
