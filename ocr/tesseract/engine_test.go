package tesseract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/ocr"
)

// smallChildMemory is the memory cap (SetMemoryLimit: RLIMIT_DATA, 4× as
// much address space) of the "ocr-small-memory" child: enough to start
// (loading the model peaks near 300 MiB of private memory, so a tighter cap
// fails at random) and serve small inputs, never enough to decode a
// 56-megapixel 16-bit page (450 MiB for its pixels alone).
const smallChildMemory = 480 << 20

// testChildEnv selects, in a re-executed test binary, which child to serve.
const testChildEnv = "SOHOA_TEST_OCR_CHILD"

// TestMain lets the test binary act as the OCR child: the pool re-executes
// it with testChildEnv set.
func TestMain(m *testing.M) {
	switch os.Getenv(testChildEnv) {
	case "":
		os.Exit(m.Run())
	case "ocr":
		err := ServeChild(context.Background(), os.Stdin, os.Stdout, ChildOptions{MemoryLimit: 2 << 30})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "ocr-small-memory":
		// A small memory cap: enough to start and serve small inputs, not
		// for a huge page, which must kill this child, not the test.
		err := ServeChild(context.Background(), os.Stdin, os.Stdout, ChildOptions{MemoryLimit: smallChildMemory})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "echo":
		err := serveChild(context.Background(), os.Stdin, os.Stdout, echoHandler{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// echoHandler is a protocol-only child: one page per byte of the input,
// each page's text the child's process ID. Its behaviour comes from the
// file name, "kind[:dir]": a kind starting with "sleep" sleeps as many
// seconds as the name is long before opening; "segv" dies on opening as
// under the OOM killer; "segv-page<k>" dies on page k, "segv-once-page<k>"
// only the first time (a marker in dir remembers it), "sleep-page<k>" hangs
// on page k; "barrier" holds page 1 until page 2 is done (by another
// child: this one is busy), marked in dir.
type echoHandler struct{}

func (echoHandler) release() {}

func (echoHandler) handle(_ context.Context, req childRequest, send func(childMsg) error) error {
	data, err := readInput(req, 0)
	if err != nil {
		return err
	}
	kind, dir, _ := strings.Cut(req.Name, ":")
	var segvPage, onceSegvPage, sleepPage int
	fmt.Sscanf(kind, "segv-page%d", &segvPage)
	fmt.Sscanf(kind, "segv-once-page%d", &onceSegvPage)
	fmt.Sscanf(kind, "sleep-page%d", &sleepPage)
	if strings.HasPrefix(kind, "sleep") && sleepPage == 0 {
		time.Sleep(time.Duration(len(req.Name)) * time.Second)
	}
	if kind == "segv" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	if err := send(childMsg{PageCount: len(data)}); err != nil {
		return err
	}
	marker := filepath.Join(dir, "marker")
	lo, hi := pageRange(req, len(data))
	for i := lo; i < hi; i++ {
		n := i + 1
		switch {
		case n == segvPage:
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		case n == onceSegvPage:
			if _, err := os.Stat(marker); err != nil {
				os.WriteFile(marker, nil, 0o600)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute)
			}
		case n == sleepPage:
			time.Sleep(time.Minute)
		case kind == "barrier" && n == 1:
			for range 600 {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		pg := ocr.Page{Number: n, Text: strconv.Itoa(os.Getpid())}
		if err := send(childMsg{Page: &pg, Image: wireImage{Number: n, Format: "png", Data: []byte{data[i]}}}); err != nil {
			return err
		}
		if kind == "barrier" && n == 2 {
			os.WriteFile(marker, nil, 0o600)
		}
	}
	return nil
}

// collect is a page sink keeping the images it is given.
type collect struct {
	mu   sync.Mutex
	imgs []ocr.PageImage
}

func (c *collect) sink(_ context.Context, img ocr.PageImage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.imgs = append(c.imgs, img)
	return nil
}

// process runs one file through p, its images collected in page order.
func process(ctx context.Context, p *Pool, data []byte, name string) ([]ocr.Page, []ocr.PageImage, error) {
	var c collect
	pages, err := p.Process(ctx, data, name, c.sink)
	slices.SortFunc(c.imgs, func(a, b ocr.PageImage) int { return a.Number - b.Number })
	return pages, c.imgs, err
}

// testEngine is a real engine closed when the test ends.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	eng, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// requireTesseract skips (or, in strict mode, fails) when the tesseract
// data is not installed.
func requireTesseract(t testing.TB) {
	t.Helper()
	for _, f := range []string{"vie.traineddata", "osd.traineddata"} {
		testenv.MustHaveFile(t, filepath.Join("/usr/share/tesseract-ocr/5/tessdata", f), "make deps installs tesseract-ocr-vie and -osd")
	}
}

func corpusDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv("SOHOA_CORPUS")
	if root == "" {
		root = "../../../shared/corpus" // ../shared beside the checkout
	}
	return testenv.MustHaveFile(t, filepath.Join(root, "dev"), "the corpus is ../shared/corpus beside the checkout (or set SOHOA_CORPUS)")
}

type truthPage struct {
	Page     int `json:"page"`
	Rotation struct {
		SkewDeg        float64 `json:"skew_deg"`
		OrientationDeg int     `json:"orientation_deg"`
	} `json:"rotation"`
	Color    string `json:"color"`
	FullText string `json:"full_text"`
}

func loadTruth(t testing.TB, dir, file string) []truthPage {
	t.Helper()
	base := strings.TrimSuffix(file, filepath.Ext(file))
	raw, err := os.ReadFile(filepath.Join(dir, base+".truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Pages []truthPage `json:"pages"`
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	return tr.Pages
}

// cer is the character error rate of got against want, comparing lines
// order-insensitively: both texts' non-empty lines are sorted, joined and
// compared by edit distance over runes, divided by len(want).
func cer(got, want string) float64 {
	norm := func(s string) []rune {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			l = strings.Join(strings.Fields(l), " ")
			if l != "" {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return []rune(strings.Join(lines, "\n"))
	}
	return editRate(norm(got), norm(want))
}

// wordCER is cer over the sorted words: insensitive to reading order and
// to how words are grouped into lines.
func wordCER(got, want string) float64 {
	norm := func(s string) []rune {
		w := strings.Fields(s)
		sort.Strings(w)
		return []rune(strings.Join(w, " "))
	}
	return editRate(norm(got), norm(want))
}

func editRate(g, w []rune) float64 {
	if len(w) == 0 {
		return 0
	}
	prev := make([]int, len(w)+1)
	cur := make([]int, len(w)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(g); i++ {
		cur[0] = i
		for j := 1; j <= len(w); j++ {
			c := prev[j-1]
			if g[i-1] != w[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(w)]) / float64(len(w))
}

func TestCER(t *testing.T) {
	tests := []struct {
		got, want string
		cer       float64
	}{
		{"abc", "abc", 0},
		{"b\na", "a\nb", 0},
		{"abd", "abc", 1.0 / 3},
		{"", "abcd", 1},
		{"a  b", "a b", 0},
	}
	for _, tt := range tests {
		if got := cer(tt.got, tt.want); got != tt.cer {
			t.Errorf("cer(%q, %q) = %g, want %g", tt.got, tt.want, got, tt.cer)
		}
	}
}

func TestClockwiseFix(t *testing.T) {
	tests := []struct{ osd, want int }{{0, 0}, {90, 270}, {180, 180}, {270, 90}, {-90, 90}, {360, 0}}
	for _, tt := range tests {
		if got := clockwiseFix(tt.osd); got != tt.want {
			t.Errorf("clockwiseFix(%d) = %d, want %d", tt.osd, got, tt.want)
		}
	}
}

// TestRecognizeCorpus recognises upright, skewed and upside-down dev pages
// in-process and checks orientation, skew and character error rate. The
// numbers are logged for the report.
func TestRecognizeCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	eng := testEngine(t)
	tests := []struct {
		file  string
		class string
	}{
		{"scan_0006.jpg", "upright (skew 0.59°)"},
		{"scan_0009.jpg", "upright (skew -0.64°)"},
		{"scan_0025.pdf", "skewed (2.81°)"},
		{"scan_0004.pdf", "skewed (-2.62°)"},
		{"scan_0007.tif", "upside-down (180°, skew -2.16°)"},
		{"scan_0026.tif", "upside-down (180°, skew 1.34°)"},
	}
	cers := map[string][]float64{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			truth := loadTruth(t, dir, tt.file)
			pages, err := ocr.Open(context.Background(), data, tt.file, ocr.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			page, err := eng.Recognize(context.Background(), pages[0])
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			want := truth[0]
			if got := page.Rotation; got != want.Rotation.OrientationDeg {
				t.Errorf("got rotation %d, want %d", got, want.Rotation.OrientationDeg)
			}
			// Page.Skew is the deskew applied: the negated content skew.
			if got, want := page.Skew, -want.Rotation.SkewDeg; got-want > 0.3 || want-got > 0.3 {
				t.Errorf("got skew %.2f, want %.2f ± 0.3", got, want)
			}
			c := wordCER(page.Text, want.FullText)
			lc := cer(page.Text, want.FullText)
			cers[strings.Fields(tt.class)[0]] = append(cers[strings.Fields(tt.class)[0]], c)
			t.Logf("%s %s: word-order CER %.2f%%, line-order CER %.2f%%, %d words, mean conf %.2f, %.2fs",
				tt.file, tt.class, 100*c, 100*lc, len(page.Words), page.Confidence, elapsed.Seconds())
			if c > 0.10 {
				t.Errorf("CER %.1f%%, want ≤ 10%%", 100*c)
			}
			if len(page.Words) == 0 || page.Words[len(page.Words)-1].Line == 0 {
				t.Errorf("got %d words on one line, want words on many lines", len(page.Words))
			}
		})
	}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	up := mean(cers["upright"])
	for _, class := range []string{"skewed", "upside-down"} {
		if len(cers[class]) == 0 || len(cers["upright"]) == 0 {
			continue
		}
		m := mean(cers[class])
		t.Logf("mean CER %s %.2f%% vs upright %.2f%%", class, 100*m, 100*up)
		if m > up+0.01 {
			t.Errorf("%s pages: mean CER %.2f%%, more than 1 point above upright %.2f%%", class, 100*m, 100*up)
		}
	}
}

// TestOSDModelOnlyWhileDetecting: the OSD model is checked at start and
// loaded only for a detection, then freed; detections still agree with
// the page's turn, and a second one with the first.
func TestOSDModelOnlyWhileDetecting(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	osd, err := newOSDDetector("")
	if err != nil {
		t.Fatal(err)
	}
	defer osd.close()
	if osd.api != nil {
		t.Fatal("OSD model kept loaded after the start check")
	}
	data, err := os.ReadFile(filepath.Join(dir, "scan_0005.png"))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := ocr.Open(context.Background(), data, "scan_0005.png", ocr.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	g := ocr.Grayscale(pages[0].Image)
	truth := loadTruth(t, dir, "scan_0005.png")
	for _, turn := range []int{90, 180} {
		want := (360 - (truth[0].Rotation.OrientationDeg+turn)%360) % 360
		for try := range 2 {
			deg, _, ok := osd.detect(ocr.RotateQuarter(g, turn), int(pages[0].DPI))
			if !ok || clockwiseFix(deg) != want {
				t.Errorf("turned %d, detection %d: osd %d ok=%v, want the fix %d", turn, try+1, deg, ok, want)
			}
			if osd.api != nil {
				t.Errorf("turned %d: OSD model still loaded after the detection", turn)
			}
		}
	}
}

// TestOrientationCorpus runs OSD on every dev page turned by 0, 90, 180
// and 270 degrees and reports the accuracy.
func TestOrientationCorpus(t *testing.T) {
	if testing.Short() || os.Getenv("SOHOA_LONG") == "" {
		t.Skip("long: set SOHOA_LONG=1")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	osd, err := newOSDDetector("")
	if err != nil {
		t.Fatal(err)
	}
	defer osd.close()
	files, _ := filepath.Glob(filepath.Join(dir, "scan_*"))
	total, right := 0, 0
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		truth := loadTruth(t, dir, filepath.Base(f))
		pages, err := ocr.Open(context.Background(), data, f, ocr.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pages {
			g := ocr.Grayscale(p.Image)
			g = ocr.Rotate(g, -ocr.EstimateSkew(g))
			for _, turn := range []int{0, 90, 180, 270} {
				deg, conf, ok := osd.detect(ocr.RotateQuarter(g, turn), int(p.DPI))
				want := (truth[i].Rotation.OrientationDeg + turn) % 360 // content turned clockwise
				total++
				if ok && clockwiseFix(deg) == (360-want)%360 {
					right++
				} else {
					t.Logf("%s p%d turned %d: osd %d conf %.1f ok=%v, want %d", filepath.Base(f), i+1, turn, deg, conf, ok, want)
				}
			}
		}
	}
	t.Logf("orientation accuracy: %d/%d", right, total)
	if right < total*95/100 {
		t.Errorf("orientation accuracy %d/%d, want ≥ 95%%", right, total)
	}
}

func testPool(t *testing.T, mode string, opts PoolOptions) *Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts.Command = []string{exe, "-test.run=^$"}
	opts.Env = append(opts.Env, testChildEnv+"="+mode)
	p, err := NewPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolProtocol(t *testing.T) {
	p := testPool(t, "echo", PoolOptions{Workers: 2})
	pages, imgs, err := process(context.Background(), p, []byte("abc"), "x.png")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(pages), 3; got != want {
		t.Fatalf("got %d pages, want %d", got, want)
	}
	if got, want := len(imgs), 3; got != want {
		t.Fatalf("got %d images, want %d", got, want)
	}
	if imgs[2].Number != 3 || imgs[2].Image != nil {
		t.Errorf("got image %+v, want number 3 and nil Image", imgs[2])
	}
}

func TestPoolChildKilledMidRequest(t *testing.T) {
	for _, retries := range []int{-1, 1} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			p := testPool(t, "echo", PoolOptions{CrashRetries: retries})
			type res struct {
				pages []ocr.Page
				err   error
			}
			done := make(chan res, 1)
			go func() {
				pages, _, err := process(context.Background(), p, []byte("ab"), "sleep")
				done <- res{pages, err}
			}()
			// Wait for the child to be busy, then kill it as an OOM killer would.
			deadline := time.Now().Add(10 * time.Second)
			for len(p.childPIDs()) == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			pids := p.childPIDs()
			if len(pids) != 1 {
				t.Fatalf("got %d running children, want 1", len(pids))
			}
			if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if retries < 0 {
				if !errors.Is(r.err, ErrChildCrashed) || !errors.Is(r.err, ocr.ErrUnreadable) {
					t.Fatalf("got %v, want ErrChildCrashed and ocr.ErrUnreadable", r.err)
				}
			} else if r.err != nil || len(r.pages) != 2 {
				t.Fatalf("got %d pages, err %v; want the retry on a fresh child to succeed", len(r.pages), r.err)
			}
			// The pool recovered: the next file works on a new child.
			pages, _, err := process(context.Background(), p, []byte("x"), "next")
			if err != nil || len(pages) != 1 {
				t.Fatalf("after crash: got %d pages, err %v; want 1 page", len(pages), err)
			}
			if got := p.childStarts(); got < 2 {
				t.Errorf("got %d child starts, want ≥ 2", got)
			}
		})
	}
}

// countingObserver counts the pool's events by kind and reason.
type countingObserver struct {
	mu     sync.Mutex
	events map[string]int
}

func (o *countingObserver) add(k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.events == nil {
		o.events = map[string]int{}
	}
	o.events[k]++
}
func (o *countingObserver) ChildRestarted(reason string) { o.add("restart:" + reason) }
func (o *countingObserver) ChildKilled(reason string)    { o.add("kill:" + reason) }
func (o *countingObserver) get(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.events[k]
}

// stageObserver also counts the stage timings the pool reports.
type stageObserver struct{ *countingObserver }

func (o *stageObserver) StageDone(stage string, d time.Duration) {
	if d > 0 {
		o.add("stage:" + stage)
	}
}

func (o *stageObserver) StageCPU(stage string, d time.Duration) {
	if d > 0 {
		o.add("cpu:" + stage)
	}
}

func TestPoolPoisonInput(t *testing.T) {
	obs := &countingObserver{}
	p := testPool(t, "echo", PoolOptions{CrashRetries: 1, Stderr: &testenv.Buffer{}, Observer: obs})
	_, _, err := process(context.Background(), p, []byte("a"), "segv")
	if !errors.Is(err, ErrChildCrashed) {
		t.Fatalf("got %v, want ErrChildCrashed", err)
	}
	if !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("got %q, want the signal named", err)
	}
	if got, want := p.childStarts(), 2; got != want {
		t.Errorf("got %d child starts, want %d (first try + one retry)", got, want)
	}
	if got := obs.get("restart:crash"); got != 1 {
		t.Errorf("observer saw %d restarts, want 1", got)
	}
	if _, _, err := process(context.Background(), p, []byte("a"), "ok"); err != nil {
		t.Fatalf("next file after poison: %v", err)
	}
}

func TestPoolTimeoutAndCancel(t *testing.T) {
	obs := &countingObserver{}
	p := testPool(t, "echo", PoolOptions{PageTimeout: 500 * time.Millisecond, Observer: obs})
	if err := p.Up(); err != nil {
		t.Fatalf("fresh pool not up: %v", err)
	}
	start := time.Now()
	_, _, err := process(context.Background(), p, []byte("a"), "sleep-long")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err = process(ctx, p, []byte("a"), "sleep-long")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if _, _, err := process(context.Background(), p, []byte("a"), "ok"); err != nil {
		t.Fatalf("after timeout: %v", err)
	}
	if obs.get("kill:timeout") != 1 || obs.get("kill:canceled") != 1 {
		t.Errorf("observer saw %v, want one kill for the timeout and one for the cancellation", obs.events)
	}
	p.Close()
	if err := p.Up(); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("closed pool Up = %v, want ErrPoolClosed", err)
	}
	if _, _, err := process(context.Background(), p, []byte("a"), "ok"); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("after Close: got %v, want ErrPoolClosed", err)
	}
}

// TestPoolRealOCR runs real files through real children: a scan, a bad
// input whose sentinel must survive the process boundary, and a page
// too large for the child's memory limit, which must kill only the child.
func TestPoolRealOCR(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	obs := &stageObserver{countingObserver: &countingObserver{}}
	p := testPool(t, "ocr", PoolOptions{Observer: obs})
	data, err := os.ReadFile(filepath.Join(dir, "scan_0029.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pages, imgs, err := process(context.Background(), p, data, "scan_0029.pdf")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scan_0029.pdf: %d pages in %.2fs through the pool", len(pages), time.Since(start).Seconds())
	if got, want := len(pages), 2; got != want {
		t.Fatalf("got %d pages, want %d", got, want)
	}
	if len(imgs) != 2 || imgs[0].Format != "jpeg" || len(imgs[0].Data) == 0 {
		t.Fatalf("got images %d, first format %q, want 2 JPEG pass-through", len(imgs), imgs[0].Format)
	}
	// The child timed every page's stages and the pool passed them on, with
	// each page job's whole time in a child.
	for _, st := range []string{StageDecode, StageDeskew, StageRecognition, StageChildBusy} { // OSD only for pages that read badly upright
		if n := obs.get("stage:" + st); n != 2 {
			t.Errorf("stage %s observed %d times, want once per page (2)", st, n)
		}
		if st != StageDecode && st != StageChildBusy && obs.get("cpu:"+st) == 0 {
			t.Errorf("stage %s: no CPU time observed", st)
		}
	}
	truth := loadTruth(t, dir, "scan_0029.pdf")
	for i := range pages {
		if c := wordCER(pages[i].Text, truth[i].FullText); c > 0.10 {
			t.Errorf("page %d: CER %.1f%%, want ≤ 10%%", i+1, 100*c)
		}
	}

	_, _, err = process(context.Background(), p, []byte("hello, not an image"), "x.jpg")
	if !errors.Is(err, ocr.ErrUnsupported) {
		t.Errorf("text input: got %v, want ocr.ErrUnsupported", err)
	}
	bad, err := os.ReadFile(filepath.Join(dir, "..", "bad", "page2_is_1x1_image.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	pages, _, err = process(context.Background(), p, bad, "page2_is_1x1_image.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || !hasFlag(pages[1], FlagDegenerate) || hasFlag(pages[0], FlagDegenerate) {
		t.Errorf("got %d pages, flags %v / %v; want page 2 only degenerate", len(pages), pages[0].Flags, pages[len(pages)-1].Flags)
	}

	flagTests := []struct {
		file string
		flag string
	}{
		{"blank_page.jpg", FlagBlank},
		{"not_a_document_noise.jpg", FlagBlank},
		{"javascript.pdf", FlagActiveContent},
	}
	for _, tt := range flagTests {
		data, err := os.ReadFile(filepath.Join(dir, "..", "bad", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pages, _, err := process(context.Background(), p, data, tt.file)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(pages) != 1 || !hasFlag(pages[0], tt.flag) {
			t.Errorf("%s: got %d pages, flags %v; want 1 page flagged %s", tt.file, len(pages), pages[0].Flags, tt.flag)
		}
		t.Logf("%s: flags %v, %d words, %.2fs", tt.file, pages[0].Flags, len(pages[0].Words), time.Since(start).Seconds())
	}
}

func TestPoolMemoryLimitKillsChildOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates")
	}
	requireTesseract(t)
	var stderr testenv.Buffer
	p := testPool(t, "ocr-small-memory", PoolOptions{CrashRetries: -1, Stderr: &stderr})
	// A valid 7500×7500 16-bit PNG: 56 MP passes the pixel limit, but its
	// decoded pixels alone (8 bytes each) need more memory than the child
	// has.
	big := hugePNG64(t, 7500, 7500)
	_, _, err := process(context.Background(), p, big, "huge.png")
	if !errors.Is(err, ErrChildCrashed) {
		t.Fatalf("got %v, want ErrChildCrashed", err)
	}
	t.Logf("huge page: %v", err)
	// Where the allocation fails decides the wording: Go's allocator
	// ("out of memory", or "cannot allocate memory" when the runtime itself
	// cannot grow), or Tesseract's C++ (std::bad_alloc).
	out := stderr.String()
	// When the kernel refuses the runtime memory for its own metadata, Go
	// can also die on a nil page (SIGSEGV in the allocator or collector),
	// or on a new thread's stack ("pthread_create failed", when the
	// collector or a cgo call starts a thread near the cap).
	if !strings.Contains(out, "out of memory") && !strings.Contains(out, "bad_alloc") && !strings.Contains(out, "cannot allocate memory") &&
		!strings.Contains(out, "SIGSEGV") && !strings.Contains(out, "pthread_create failed") {
		t.Errorf("child stderr does not show an allocation failure:\n%.2000s", out)
	}
	if _, _, err := process(context.Background(), p, []byte("not an image"), "next.txt"); !errors.Is(err, ocr.ErrUnsupported) {
		t.Fatalf("after the memory kill: got %v, want ocr.ErrUnsupported from a fresh child\n%s", err, stderr.String())
	}
}

func hasFlag(p ocr.Page, f string) bool {
	for _, x := range p.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// BenchmarkOCRPage measures Engine.Recognize (skew + OSD + recognition)
// per page; BenchmarkTesseractCLI runs the raw CLI on the same pages.
// Run both with OMP_THREAD_LIMIT=1 in the environment.
func BenchmarkOCRPage(b *testing.B) {
	requireTesseract(b)
	dir := corpusDir(b)
	eng, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for _, f := range benchFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		pages, err := ocr.Open(context.Background(), data, f, ocr.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				if _, err := eng.Recognize(context.Background(), pages[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var benchFiles = []string{"scan_0006.jpg", "scan_0007.tif", "scan_0025.pdf"}

func BenchmarkTesseractCLI(b *testing.B) {
	requireTesseract(b)
	dir := corpusDir(b)
	tess := testenv.MustHaveExecPath(b, "tesseract")
	tmp := b.TempDir()
	for _, f := range benchFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		pages, err := ocr.Open(context.Background(), data, f, ocr.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		in := filepath.Join(tmp, f+"."+pages[0].Format)
		if err := os.WriteFile(in, pages[0].Data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(tess, in, "-", "-l", "vie")
				cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("tesseract: %v: %s", err, out)
				}
			}
		})
	}
}

// hugePNG encodes a w×h RGB page with a few black text-like bars; decoded
// it takes 4 bytes per pixel.
// hugePNG64 is a white 16-bit RGBA PNG of w×h with dark bars.
func hugePNG64(t testing.TB, w, h int) []byte {
	t.Helper()
	g := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	for y := h / 10; y < h*9/10; y += 120 {
		for dy := 0; dy < 20; dy++ {
			row := g.Pix[(y+dy)*g.Stride:]
			for x := w / 10; x < w*9/10; x++ {
				copy(row[8*x:8*x+6], []byte{0, 0, 0, 0, byte(x), 0})
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeBMP(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 10)
	}
	data := encodeBMP(g, 200)
	if got, want := len(data), 14+40+1024+8*3; got != want {
		t.Fatalf("got %d bytes, want %d", got, want)
	}
	// The bottom row comes first; rows are padded to 4 bytes.
	first := data[14+40+1024:]
	if got, want := first[:5], g.Pix[10:15]; !bytes.Equal(got, want) {
		t.Errorf("first stored row = %v, want bottom row %v", got, want)
	}
	if got := int(data[38]) | int(data[39])<<8; got != 7874 {
		t.Errorf("got %d px/m, want 7874 (200 dpi)", got)
	}
}

// TestRereadCorpus checks the second reads of ID words on dev pages: an ID
// under pen marks (page read confidence 0.64) and under a stamp (0.41),
// which the second reads must reproduce, an ID the page read got wrong
// ("091…" for "001…"), which they must correct, and a clean ID which the
// old 0.75×Otsu treatment misread (a 6 as 5). No second read may give
// another 12-digit number. IDs are compared, never logged in clear.
func TestRereadCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	eng := testEngine(t)
	tests := []struct {
		file string
		page int
		mark string
	}{
		{"scan_0005.png", 1, "pen marks"},
		{"scan_0007.tif", 1, "stamp, upside-down page"},
		{"scan_0022.pdf", 2, "page read wrong"},
		{"scan_0013.jpg", 1, "clean"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(tt.file, filepath.Ext(tt.file))+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tr struct {
				Documents []struct {
					Pages            []int  `json:"pages"`
					HolderPersonalID string `json:"holder_personal_id"`
				} `json:"documents"`
			}
			if err := json.Unmarshal(raw, &tr); err != nil {
				t.Fatal(err)
			}
			want := ""
			for _, d := range tr.Documents {
				if len(d.Pages) > 0 && d.Pages[0] == tt.page {
					want = d.HolderPersonalID
				}
			}
			pages, err := ocr.Open(context.Background(), data, tt.file, ocr.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			page, err := eng.Recognize(context.Background(), pages[tt.page-1])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s p%d (%s): %.2fs", tt.file, tt.page, tt.mark, time.Since(start).Seconds())
			agree, contradict := 0, 0
			found := false
			for _, w := range page.Words {
				if !strings.Contains(w.Text, want[len(want)-4:]) {
					continue
				}
				found = true
				for _, a := range w.Alts {
					got := strings.Map(func(r rune) rune {
						if r >= '0' && r <= '9' {
							return r
						}
						return -1
					}, a.Text)
					if got == want {
						agree++
					} else if len(got) == 12 {
						contradict++
					}
					t.Logf("page read conf %.2f, %s read: right=%v conf %.2f", w.Conf, a.Variant, got == want, a.Conf)
				}
			}
			if !found {
				t.Fatal("ID word not found on the page")
			}
			if agree < 2 {
				t.Errorf("got %d second reads of the ID right, want at least 2", agree)
			}
			if contradict > 0 {
				t.Errorf("got %d second reads giving another 12-digit number, want none", contradict)
			}
		})
	}
}

// TestRereadDateCorpus checks the second reads of a written date whose
// day the page read got wrong (scan_0014: "37" for 27): at least two
// reads must give the printed day and none another number.
func TestRereadDateCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	eng := testEngine(t)
	const file = "scan_0014.pdf"
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "scan_0014.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	wantDay := strings.TrimLeft(strings.SplitN(tr.Fields["issue_date"], "/", 2)[0], "0")
	pages, err := ocr.Open(context.Background(), data, file, ocr.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	page, err := eng.Recognize(context.Background(), pages[0])
	if err != nil {
		t.Fatal(err)
	}
	dates := ocr.WrittenDateParts(page.Words)
	if len(dates) == 0 {
		t.Fatal("no written date found on the page")
	}
	w := page.Words[dates[0][0]]
	agree, contradict := 0, 0
	for _, a := range w.Alts {
		got := strings.TrimLeft(strings.TrimSpace(a.Text), "0")
		switch {
		case got == wantDay:
			agree++
		case got != "":
			contradict++
		}
		t.Logf("day page read %q conf %.2f, %s read %q conf %.2f", w.Text, w.Conf, a.Variant, a.Text, a.Conf)
	}
	if agree < 2 || contradict > 0 {
		t.Errorf("day reads: %d right, %d other numbers; want at least 2 right and none other", agree, contradict)
	}
}
