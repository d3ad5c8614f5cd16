package pdftext

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseBBox(t *testing.T) {
	data, err := os.ReadFile("testdata/bbox.xhtml")
	if err != nil {
		t.Fatal(err)
	}
	pages, cut, err := parseBBox(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || pages[0].Width != 595 || pages[0].Height != 842 || len(cut) != 0 {
		t.Fatalf("pages = %+v, cut %v", pages, cut)
	}
	ws := pages[0].Words
	if len(ws) != 24 {
		t.Fatalf("%d words, want 24", len(ws))
	}
	if w := ws[0]; w.Text != "UBND" || w.XMin != 56 || w.YMax != 66.808 || w.Line != 0 || w.Block != 0 {
		t.Errorf("first word %+v", w)
	}
	if w := ws[len(ws)-1]; w.Text != "phúc" || w.Line != 3 {
		t.Errorf("last word %+v", w)
	}
	// A word bound cuts the page and says so.
	pages, cut, err = parseBBox(bytes.NewReader(data), 10)
	if err != nil || len(pages[0].Words) != 10 || len(cut) != 1 || cut[0] != 1 {
		t.Fatalf("bounded: %d words, cut %v, err %v", len(pages[0].Words), cut, err)
	}
}

func TestParseBBoxMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"word outside page": `<doc><word xMin="1" yMin="1" xMax="2" yMax="2">x</word></doc>`,
		"page without size": `<doc><page><word xMin="1" yMin="1" xMax="2" yMax="2">x</word></page></doc>`,
		"bad number":        `<doc><page width="1" height="1"><word xMin="a" yMin="1" xMax="2" yMax="2">x</word></page></doc>`,
		"huge number":       `<doc><page width="1e99" height="1"></page></doc>`,
		"missing attribute": `<doc><page width="1" height="1"><word xMin="1" yMin="1" xMax="2">x</word></page></doc>`,
	} {
		if _, _, err := parseBBox(strings.NewReader(in), 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestParseImages(t *testing.T) {
	out := `page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio
--------------------------------------------------------------------------------------------
   1     0 image    1654  2339  rgb     3   8  jpeg   no         7  0   200   200  528K 4.7%
   2     1 smask     100   100  gray    1   8  image  no         9  0   inf   inf  1K 1%
`
	imgs, err := parseImages([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageInfo{{Page: 1, Type: "image", Width: 1654, Height: 2339, XPPI: 200, YPPI: 200}, {Page: 2, Type: "smask", Width: 100, Height: 100}}
	if len(imgs) != 2 || imgs[0] != want[0] || imgs[1] != want[1] {
		t.Fatalf("got %+v", imgs)
	}
	for _, bad := range []string{"   1 0 image\n", "page num\n---\n x 0 image 1 1 rgb 3 8 jpeg no 7 0 1 1 1K 1%\n"} {
		if _, err := parseImages([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestParseFonts(t *testing.T) {
	out := `name                                 type              encoding         emb sub uni object ID
------------------------------------ ----------------- ---------------- --- --- --- ---------
AAAAAA+LiberationSerif               CID TrueType      Identity-H       yes yes no       3  0
Helvetica                            Type 1            WinAnsi          no  no  yes      5  0
`
	fonts, err := parseFonts([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []FontInfo{
		{Name: "AAAAAA+LiberationSerif", Type: "CID TrueType", Encoding: "Identity-H", Embedded: true, Unicode: false},
		{Name: "Helvetica", Type: "Type 1", Encoding: "WinAnsi", Embedded: false, Unicode: true},
	}
	if len(fonts) != 2 || fonts[0] != want[0] || fonts[1] != want[1] {
		t.Fatalf("got %+v", fonts)
	}
	if f, err := parseFonts(nil); err != nil || f != nil {
		t.Errorf("empty: %v %v", f, err)
	}
	if _, err := parseFonts([]byte("garbage\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}

func FuzzParseBBox(f *testing.F) {
	if data, err := os.ReadFile("testdata/bbox.xhtml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<doc><page width="1" height="1"><word xMin="1" yMin="1" xMax="2" yMax="2">x</word></page></doc>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pages, _, err := parseBBox(bytes.NewReader(xmlSafe(data)), 100)
		if err != nil {
			return
		}
		for _, p := range pages {
			if len(p.Words) > 100 {
				t.Fatalf("%d words over the bound", len(p.Words))
			}
		}
	})
}

func FuzzParseTables(f *testing.F) {
	f.Add([]byte("page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio\n---\n   1     0 image    1654  2339  rgb     3   8  jpeg   no         7  0   200   200  528K 4.7%\n"))
	f.Add([]byte("name                                 type              encoding         emb sub uni object ID\n------------------------------------ ----------------- ---------------- --- --- --- ---------\nX                                    Type 1            WinAnsi          no  no  yes      5  0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseImages(data) // must not panic
		parseFonts(data)
	})
}
