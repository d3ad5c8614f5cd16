package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// stageSums are a worker's sohoa_stage_duration_seconds sums and counts
// and its sohoa_stage_cpu_seconds_total (the OCR child's stages) by stage,
// as its operations listener's /metrics shows them.
type stageSums map[string]stageSum

type stageSum struct{ Sum, Count, CPU float64 }

const (
	stageMetric    = "sohoa_stage_duration_seconds"
	stageCPUMetric = "sohoa_stage_cpu_seconds_total"
)

// parseStages reads the stage histogram's _sum and _count series from the
// Prometheus text format.
func parseStages(r io.Reader) (stageSums, error) {
	out := stageSums{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var kind, rest string
		if r, ok := strings.CutPrefix(line, stageCPUMetric+"{"); ok {
			kind, rest = "cpu", r
		} else if r, ok := strings.CutPrefix(line, stageMetric+"_"); ok {
			if kind, rest, ok = strings.Cut(r, "{"); !ok || (kind != "sum" && kind != "count") {
				continue
			}
		} else {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		stage := ""
		for l := range strings.SplitSeq(labels, ",") {
			if v, ok := strings.CutPrefix(l, `stage="`); ok {
				stage = strings.TrimSuffix(v, `"`)
			}
		}
		f, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if stage == "" || err != nil {
			continue
		}
		e := out[stage]
		switch kind {
		case "sum":
			e.Sum = f
		case "count":
			e.Count = f
		case "cpu":
			e.CPU = f
		}
		out[stage] = e
	}
	return out, sc.Err()
}

// minus is s - before, stage by stage.
func (s stageSums) minus(before stageSums) stageSums {
	out := stageSums{}
	for k, v := range s {
		b := before[k]
		v.Sum -= b.Sum
		v.Count -= b.Count
		v.CPU -= b.CPU
		if v.Count > 0 || v.Sum > 0 {
			out[k] = v
		}
	}
	return out
}

// add is s + o.
func (s stageSums) add(o stageSums) stageSums {
	out := stageSums{}
	for k, v := range s {
		out[k] = v
	}
	for k, v := range o {
		e := out[k]
		e.Sum += v.Sum
		e.Count += v.Count
		e.CPU += v.CPU
		out[k] = e
	}
	return out
}

// scrapeStages reads a worker's stage sums from http://addr/metrics.
func scrapeStages(ctx context.Context, addr string) (stageSums, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return parseStages(resp.Body)
}
