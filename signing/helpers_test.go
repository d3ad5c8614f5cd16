package signing_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/signing"
)

const corpusDir = "../../shared/corpus/dev"

type truth struct {
	File   string            `json:"file"`
	Fields map[string]string `json:"fields"`
	Holder string            `json:"holder_personal_id"`
	Valid  *string           `json:"valid_until"`
	Pages  []struct {
		DPI      float64 `json:"dpi"`
		FullText string  `json:"full_text"`
	} `json:"pages"`
}

// sample is one corpus image turned into a RenderInput without OCR: the
// truth text is laid out as fake words, top to bottom.
type sample struct {
	name  string
	truth truth
	in    signing.RenderInput
}

func loadSample(t testing.TB, path string) sample {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	tb, err := os.ReadFile(strings.TrimSuffix(path, filepath.Ext(path)) + ".truth.json")
	if err != nil {
		t.Fatalf("read truth: %v", err)
	}
	var tr truth
	if err := json.Unmarshal(tb, &tr); err != nil {
		t.Fatalf("parse truth %s: %v", path, err)
	}
	// ocr.Open decodes every corpus format (JPEG passed through, PNG, TIFF
	// incl. multi-page G4, image-only PDF) as the pipeline does.
	imgs, err := ocr.Open(context.Background(), data, filepath.Base(path), ocr.DefaultLimits())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	var pages []signing.Page
	for i, img := range imgs {
		b := img.Image.Bounds()
		page := signing.Page{Data: img.Data, Image: img.Image, DPI: img.DPI, Width: b.Dx(), Height: b.Dy()}
		if i < len(tr.Pages) {
			page.Words = fakeWords(tr.Pages[i].FullText, b.Dx(), img.DPI)
		}
		pages = append(pages, page)
	}
	sum := sha256.Sum256(data)
	valid := ""
	if tr.Valid != nil {
		valid = *tr.Valid
	}
	meta := signing.Metadata{
		Title:         "Giấy chứng nhận",
		ResultCode:    "000.00.31.H29-250718-0042-KQ1",
		DossierCode:   "000.00.31.H29-250718-0042",
		ProcedureCode: "1.001193",
		DocType:       "test",
		Agency:        "Ủy ban nhân dân phường Hưng Phú, quận Cái Răng, thành phố Cần Thơ",
		AgencyCode:    "000.00.31.H29",
		IssueDate:     tr.Fields["issue_date"],
		HolderID:      tr.Holder,
		ValidUntil:    valid,
		SourceSHA256:  hex.EncodeToString(sum[:]),
		ConvertedAt:   time.Date(2025, 7, 18, 2, 41, 7, 0, time.UTC),
		VerifyURL:     signing.VerifyURL("https://sohoa.example.vn", "000.00.31.H29-250718-0042-KQ1", signing.VerifyToken([]byte("k"), "000.00.31.H29-250718-0042-KQ1")),
	}
	return sample{name: filepath.Base(path), truth: tr, in: signing.RenderInput{
		Pages: pages, Meta: meta,
	}}
}

// fakeWords lays text out as 13 pt lines from a 2 cm margin.
func fakeWords(text string, width int, dpi float64) []signing.Word {
	px := func(pt float64) int { return int(pt * dpi / 72) }
	var out []signing.Word
	y := px(80)
	for li, line := range strings.Split(text, "\n") {
		x := px(57)
		for _, w := range strings.Fields(line) {
			wpx := px(6.5 * float64(len([]rune(w))))
			if x+wpx > width {
				break
			}
			out = append(out, signing.Word{Text: w, Line: li,
				Box: image.Rect(x, y, x+wpx, y+px(13))})
			x += wpx + px(4)
		}
		y += px(18)
	}
	return out
}

func corpusSamples(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.jpg", "*.png", "*.tif", "*.pdf"} {
		m, _ := filepath.Glob(filepath.Join(corpusDir, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		testenv.Missing(t, "no corpus files in "+corpusDir, "the corpus is ../shared/corpus beside the checkout")
	}
	return files
}

func newRenderer(t testing.TB) *signing.Renderer {
	t.Helper()
	r, err := signing.NewRenderer(signing.RendererConfig{})
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

func devKeys(t testing.TB) (*signing.Keys, string) {
	t.Helper()
	dir := t.TempDir()
	k, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatalf("EnsureDevKeys: %v", err)
	}
	return k, filepath.Join(dir, signing.DevCAFile)
}

func rootsFrom(t testing.TB, caFile string) signing.VerifyOptions {
	t.Helper()
	pool, err := signing.LoadCertPool(caFile)
	if err != nil {
		t.Fatalf("LoadCertPool: %v", err)
	}
	return signing.VerifyOptions{Roots: pool}
}

func renderSign(t testing.TB, s sample, keys *signing.Keys, tsaURL string) []byte {
	t.Helper()
	ctx := context.Background()
	unsigned, err := newRenderer(t).Render(ctx, s.in)
	if err != nil {
		t.Fatalf("Render %s: %v", s.name, err)
	}
	signed, err := signing.Sign(ctx, unsigned, keys, signing.SignOptions{
		Name: "sohoa test", Reason: "E-result issued", Location: "Can Tho, VN", TSAURL: tsaURL,
		Time: time.Now(),
	})
	if err != nil {
		t.Fatalf("Sign %s: %v", s.name, err)
	}
	return signed
}

// nssDB creates an NSS database trusting caFile for pdfsig.
func nssDB(t testing.TB, caFile string) string {
	t.Helper()
	certutil := testenv.MustHaveExecPath(t, "certutil")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "sohoa-test-ca", "-t", "CT,C,C", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return "sql:" + dir
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
