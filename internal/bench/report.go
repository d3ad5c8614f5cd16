package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sohoa/ocr/tesseract"
)

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is one tool's medians over its rounds.
type summary struct {
	Tool                    string
	Rounds                  int
	Pages                   int
	Wall, CPU               float64
	PagesPerMin, CPUPerPage float64
	PeakSelf, PeakChildren  int64
	Failed                  int
	States                  map[string]int
}

func summarise(tool string, ms []Measure) summary {
	s := summary{Tool: tool, Rounds: len(ms)}
	if len(ms) == 0 {
		return s
	}
	var walls, cpus []float64
	for _, m := range ms {
		walls, cpus = append(walls, m.Wall), append(cpus, m.CPU)
		s.PeakSelf, s.PeakChildren = max(s.PeakSelf, m.PeakSelf), max(s.PeakChildren, m.PeakChildren)
		s.Failed = max(s.Failed, m.Failed)
	}
	s.Pages, s.States = ms[0].Pages, ms[len(ms)-1].States
	s.Wall, s.CPU = median(walls), median(cpus)
	if s.Wall > 0 {
		s.PagesPerMin = float64(s.Pages) / s.Wall * 60
	}
	if s.Pages > 0 {
		s.CPUPerPage = s.CPU / float64(s.Pages)
	}
	return s
}

// pairedRatio is the median over rounds of a's wall (or CPU) over b's in
// the same round.
func pairedRatio(a, b []Measure, cpu bool) (float64, int) {
	var rs []float64
	for i := range min(len(a), len(b)) {
		x, y := a[i].Wall, b[i].Wall
		if cpu {
			x, y = a[i].CPU, b[i].CPU
		}
		if y > 0 {
			rs = append(rs, x/y)
		}
	}
	return median(rs), len(rs)
}

// stageOrder is the order of the stage breakdown: the OCR child's stages
// per page, then the worker's.
var stageOrder = []string{"decode", "deskew", "osd", "recognition", "reread_*", tesseract.StageChildBusy, "ocr_page", "extraction",
	"page_read", "rendering", "signing", "verification", "issue", "storage"}

// stageRows are the median seconds per page of every stage the runs saw.
type stageRow struct {
	Stage   string
	PerPage float64 // wall seconds per corpus page
	CPU     float64 // CPU seconds per corpus page (the OCR child's stages)
	Count   float64 // observations in the median round
}

func stageRows(ms []Measure) []stageRow {
	names := map[string]bool{}
	for _, m := range ms {
		for k := range m.Stages {
			names[k] = true
		}
	}
	rank := func(n string) int {
		for i, s := range stageOrder {
			if s == n || (strings.HasSuffix(s, "*") && strings.HasPrefix(n, strings.TrimSuffix(s, "*"))) {
				return i
			}
		}
		return len(stageOrder)
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if ri, rj := rank(sorted[i]), rank(sorted[j]); ri != rj {
			return ri < rj
		}
		return sorted[i] < sorted[j]
	})
	var out []stageRow
	for _, n := range sorted {
		var per, cpu, counts []float64
		for _, m := range ms {
			if m.Pages > 0 {
				per = append(per, m.Stages[n].Sum/float64(m.Pages))
				cpu = append(cpu, m.Stages[n].CPU/float64(m.Pages))
				counts = append(counts, m.Stages[n].Count)
			}
		}
		out = append(out, stageRow{Stage: n, PerPage: median(per), CPU: median(cpu), Count: median(counts)})
	}
	return out
}

// childBusy is the median over rounds of the share of the wall time the
// OCR children spent on pages.
func childBusy(ms []Measure) float64 {
	var rs []float64
	for _, m := range ms {
		if m.Children > 0 && m.Wall > 0 {
			rs = append(rs, m.Stages[tesseract.StageChildBusy].Sum/(float64(m.Children)*m.Wall))
		}
	}
	return median(rs)
}

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// writeReport writes results.md, results.json and the PNG plots into dir.
func writeReport(dir string, rep *Report, workers []int) error {
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench — %s\n\n", rep.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Command: `%s`. Corpus %s: %d files, %d pages. Machine %s, load average at start %s.\n",
		rep.Command, strings.Join(rep.Corpus, ", "), rep.Files, rep.Pages, rep.Host, rep.Load)
	fmt.Fprintf(&b, "Tesseract: %s. OCRmyPDF: %s. Medians of paired rounds (every tool once per round, order rotating).\n\n", rep.Tesseract, rep.OCRmyPDF)
	tools := []string{ToolTesseract, ToolTesseractPSM1, ToolExtract}
	for _, n := range workers {
		tools = append(tools, ToolPipeline(n))
	}
	tools = append(tools, ToolOCRmyPDF)
	fmt.Fprintln(&b, "| what | rounds | wall (s) | CPU (s) | pages/min | CPU-s/page | peak RSS main | peak RSS child | failed |")
	fmt.Fprintln(&b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	sums := map[string]summary{}
	for _, t := range tools {
		ms := rep.Runs[t]
		if len(ms) == 0 {
			continue
		}
		s := summarise(t, ms)
		sums[t] = s
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.2f | %s | %s | %d |\n", t, s.Rounds, s.Wall, s.CPU, s.PagesPerMin, s.CPUPerPage,
			mib(s.PeakSelf), mib(s.PeakChildren), s.Failed)
	}
	fmt.Fprintln(&b)
	for _, n := range workers {
		var cpus, stack []float64
		for _, m := range rep.Runs[ToolPipeline(n)] {
			cpus, stack = append(cpus, m.ServeCPU), append(stack, m.StackCPU)
		}
		if len(cpus) > 0 && median(cpus) > 0 {
			others := "the S3 server and Redis are not counted"
			if median(stack) > 0 {
				others = fmt.Sprintf("the S3 server and Redis %.1f CPU-s", median(stack))
			}
			fmt.Fprintf(&b, "The pipeline's CPU is the worker's and its children's; in the median round of %s, serve (uploads and status answers) used %.1f CPU-s more, %s.\n\n", ToolPipeline(n), median(cpus), others)
		}
	}
	pipe := ToolPipeline(workers[0])
	fmt.Fprintf(&b, "Ratios (median of the per-round ratios, %s):\n\n", pipe)
	fmt.Fprintln(&b, "| ratio | wall | CPU | rounds | target |")
	fmt.Fprintln(&b, "| --- | --- | --- | --- | --- |")
	ratio := func(label, a, bb, target string) {
		w, n := pairedRatio(rep.Runs[a], rep.Runs[bb], false)
		c, _ := pairedRatio(rep.Runs[a], rep.Runs[bb], true)
		if n == 0 {
			return
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %d | %s |\n", label, w, c, n, target)
	}
	ratio("pipeline / tesseract --psm 1", pipe, ToolTesseractPSM1, "wall ≤ 0.95")
	ratio("pipeline / tesseract", pipe, ToolTesseract, "wall ≤ 1.35")
	ratio("sohoa extract / tesseract --psm 1", ToolExtract, ToolTesseractPSM1, "")
	ratio("OCRmyPDF / pipeline", ToolOCRmyPDF, pipe, "wall ≥ 5")
	if len(workers) > 1 {
		ratio(fmt.Sprintf("%d workers / %d worker (wall; < 1 is faster)", workers[1], workers[0]), ToolPipeline(workers[1]), pipe, "")
	}
	fmt.Fprintln(&b)
	if s, ok := sums[pipe]; ok && len(s.States) > 0 {
		fmt.Fprintf(&b, "Pipeline outcomes (last round): %s.\n\n", states(s.States))
	}
	rows := stageRows(rep.Runs[pipe])
	if len(rows) > 0 {
		fmt.Fprintf(&b, "Stage breakdown (%s, from the worker's /metrics: sohoa_stage_duration_seconds, wall, and sohoa_stage_cpu_seconds_total, CPU, of the OCR child's stages; seconds per corpus page, median of rounds; the OCR child's stages are inside ocr_page, the issue's steps inside issue):\n\n", pipe)
		fmt.Fprintln(&b, "| stage | wall s/page | CPU s/page | observations |")
		fmt.Fprintln(&b, "| --- | --- | --- | --- |")
		for _, r := range rows {
			cpu := "–"
			if r.CPU > 0 {
				cpu = fmt.Sprintf("%.3f", r.CPU)
			}
			fmt.Fprintf(&b, "| %s | %.3f | %s | %.0f |\n", r.Stage, r.PerPage, cpu, r.Count)
		}
		fmt.Fprintln(&b)
	}
	if busy := childBusy(rep.Runs[pipe]); busy > 0 {
		fmt.Fprintf(&b, "OCR children busy %.0f %% of the time (%s, median of rounds: the %s stage's sum over the children's number times the wall time; the rest they waited for a page).\n\n",
			100*busy, pipe, tesseract.StageChildBusy)
	}
	if d := rep.Dossier; d != nil {
		fmt.Fprintf(&b, "Memory, generated dossiers (%d pages: one bitonal, one colour PDF, one worker): %.0f s, %.2f CPU-s/page, peak RSS worker %s, largest OCR child %s, worker + children at one instant (sampled every 100 ms) %s RSS, %s PSS (shared executable pages counted once) (bound 500 MiB), %s as the sum of each process's own peak; outcomes %s.\n\n",
			d.Pages, d.Wall, d.CPU/float64(max(1, d.Pages)), mib(d.PeakSelf), mib(d.PeakChildren), mib(d.PeakLive), mib(d.PeakLivePSS), mib(d.PeakSum), states(d.States))
	}
	if u := rep.Uploads; u != nil {
		fmt.Fprintf(&b, "Memory, concurrent uploads (serve alone): %s in %.0f s, %d failed; peak RSS of serve %s (bound 300 MiB).\n\n",
			states(u.States), u.Wall, u.Failed, mib(u.PeakSelf))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "Note: %s\n\n", n)
	}
	fmt.Fprintln(&b, "![pages per minute](scaling.png)\n\n![stage breakdown](stages.png)")
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	var bars []bar
	for _, t := range tools {
		if s, ok := sums[t]; ok {
			bars = append(bars, bar{Label: t, Value: s.PagesPerMin})
		}
	}
	if err := writeBarChart(filepath.Join(dir, "scaling.png"), "pages per minute (higher is better)", bars, "%.1f"); err != nil {
		return err
	}
	bars = nil
	for _, r := range rows {
		v, unit := r.PerPage, " (wall)"
		if r.CPU > 0 {
			v, unit = r.CPU, " (CPU)"
		}
		bars = append(bars, bar{Label: r.Stage + unit, Value: v})
	}
	return writeBarChart(filepath.Join(dir, "stages.png"), "seconds per page by stage ("+pipe+"): OCR child stages in CPU seconds, worker stages in wall seconds", bars, "%.3f")
}

func states(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
