package main

// ops.go is the operations side of serve and worker: the Prometheus
// metrics (one registry per process, passed down; no global state), the
// health endpoints, and the operations listener that serves them with the
// queue monitor (asynqmon).

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/web"
)

// opsAddr is the listener address a setting gives; "" when disabled
// (empty or 0).
func opsAddr(a string) string {
	if a = strings.TrimSpace(a); a == "0" {
		return ""
	}
	return a
}

// metrics is a process's Prometheus registry and the series sohoa updates
// itself. It implements pipeline.Observer, tesseract.PoolObserver and
// api.Observer. Every label value is a fixed word, a code from the code,
// a route pattern or a configured client ID (label() enforces the shape):
// never a citizen's data, a file name or a raw URL.
type metrics struct {
	reg         *prometheus.Registry
	pages       *prometheus.CounterVec
	documents   *prometheus.CounterVec
	stage       *prometheus.HistogramVec
	stageCPU    *prometheus.CounterVec
	quarantined *prometheus.CounterVec
	ocrRestarts *prometheus.CounterVec
	ocrKills    *prometheus.CounterVec
	apiRequests *prometheus.CounterVec
	apiLatency  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := registrar{reg}
	m := &metrics{
		reg: reg,
		pages: f.counter(prometheus.CounterOpts{Name: "sohoa_pages_total",
			Help: "Pages recognised by OCR, by outcome (ok, or the page's flag: blank, degenerate, low-confidence, …)."}, "outcome"),
		documents: f.counter(prometheus.CounterOpts{Name: "sohoa_documents_total",
			Help: "Documents by outcome: the decision after OCR (issue, review, keep), then issued when the e-result is filed."}, "outcome"),
		stage: f.histogram(prometheus.HistogramOpts{Name: "sohoa_stage_duration_seconds",
			Help:    "Latency of a pipeline stage: ocr_page (per page) and, per page as the OCR child measured them, decode, deskew, osd, recognition, reread_<treatment>; ocr_child_busy (a child's whole time on a page: its stages, opening the file, the page image and the message); extraction; page_read, issue (rendering, signing, verification), storage (filing an e-result).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160}}, "stage"),
		stageCPU: f.counter(prometheus.CounterOpts{Name: "sohoa_stage_cpu_seconds_total",
			Help: "CPU time (user + system) of the recognition stages, as the OCR children measure it: decode, deskew, osd, recognition, reread_<treatment>."}, "stage"),
		quarantined: f.counter(prometheus.CounterOpts{Name: "sohoa_quarantined_total",
			Help: "Inputs quarantined, by reason code."}, "code"),
		ocrRestarts: f.counter(prometheus.CounterOpts{Name: "sohoa_ocr_child_restarts_total",
			Help: "OCR child processes restarted after one died on a file."}, "reason"),
		ocrKills: f.counter(prometheus.CounterOpts{Name: "sohoa_ocr_child_kills_total",
			Help: "OCR child processes killed by the worker (timeout, canceled, error)."}, "reason"),
		apiRequests: f.counter(prometheus.CounterOpts{Name: "sohoa_api_requests_total",
			Help: "Reuse API requests answered, by client system, route pattern and status."}, "client", "route", "status"),
		apiLatency: f.histogram(prometheus.HistogramOpts{Name: "sohoa_api_request_duration_seconds",
			Help: "Reuse API latency by route pattern.", Buckets: prometheus.DefBuckets}, "route"),
	}
	// Known reasons show as 0 before the first event, so dashboards and
	// alerts see the series from the start.
	m.ocrRestarts.WithLabelValues("crash")
	for _, r := range []string{"timeout", "canceled", "error"} {
		m.ocrKills.WithLabelValues(r)
	}
	return m
}

// registrar registers vectors on one registry.
type registrar struct{ r prometheus.Registerer }

func (f registrar) counter(o prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(o, labels)
	f.r.MustRegister(v)
	return v
}

func (f registrar) histogram(o prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(o, labels)
	f.r.MustRegister(v)
	return v
}

// labelRe is the shape of every label value: words, codes, route
// patterns and client IDs. Anything else is "other".
var labelRe = regexp.MustCompile(`^[A-Za-z0-9_.:/{}\- ]{1,80}$`)

func label(s string) string {
	switch {
	case s == "":
		return "none"
	case !labelRe.MatchString(s) || digitRun12.MatchString(s):
		return "other"
	}
	return s
}

// digitRun12 is a run of 12 digits or more: never a label (a citizen ID).
var digitRun12 = regexp.MustCompile(`[0-9]{12}`)

func (m *metrics) StageDone(stage string, d time.Duration) {
	m.stage.WithLabelValues(label(stage)).Observe(d.Seconds())
}
func (m *metrics) StageCPU(stage string, d time.Duration) {
	m.stageCPU.WithLabelValues(label(stage)).Add(d.Seconds())
}
func (m *metrics) Pages(outcome string, n int) {
	m.pages.WithLabelValues(label(outcome)).Add(float64(n))
}
func (m *metrics) Document(outcome string)      { m.documents.WithLabelValues(label(outcome)).Inc() }
func (m *metrics) Quarantined(code string)      { m.quarantined.WithLabelValues(label(code)).Inc() }
func (m *metrics) ChildRestarted(reason string) { m.ocrRestarts.WithLabelValues(label(reason)).Inc() }
func (m *metrics) ChildKilled(reason string)    { m.ocrKills.WithLabelValues(label(reason)).Inc() }
func (m *metrics) Request(client, route string, status int, d time.Duration) {
	route = label(route)
	m.apiRequests.WithLabelValues(label(client), route, strconv.Itoa(status)).Inc()
	m.apiLatency.WithLabelValues(route).Observe(d.Seconds())
}

// watchQueues adds the queue depth and latency, read from Redis with the
// asynq inspector at each scrape.
func (m *metrics) watchQueues(insp *asynq.Inspector, log *slog.Logger) {
	m.reg.MustRegister(&queueCollector{insp: insp, log: log,
		depth: prometheus.NewDesc("sohoa_queue_depth", "Tasks waiting to run (pending) in a queue.", []string{"queue"}, nil),
		tasks: prometheus.NewDesc("sohoa_queue_tasks", "Tasks in a queue by state (pending, active, scheduled, retry, archived).", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc("sohoa_queue_latency_seconds",
			"Age of the oldest pending task of a queue (how long work waits).", []string{"queue"}, nil),
	})
}

type queueCollector struct {
	insp                  *asynq.Inspector
	log                   *slog.Logger
	depth, tasks, latency *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.tasks
	ch <- c.latency
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	names := make([]string, 0, 4)
	for q := range pipeline.Queues() {
		names = append(names, q)
	}
	slices.Sort(names)
	for _, q := range names {
		var info asynq.QueueInfo
		if got, err := c.insp.GetQueueInfo(q); err == nil {
			info = *got
		} else if !errors.Is(err, asynq.ErrQueueNotFound) {
			c.log.Warn("metrics: queue info", "queue", q, "err", err)
			continue // no value rather than a false zero
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(info.Pending), q)
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
}

// watchReviews adds the review backlog and the age of its oldest
// document, listed from the bucket at most every refresh.
func (m *metrics) watchReviews(repo *storage.Repository, now func() time.Time, refresh time.Duration, log *slog.Logger) {
	m.reg.MustRegister(&reviewCollector{repo: repo, now: now, refresh: refresh, log: log,
		backlog: prometheus.NewDesc("sohoa_review_backlog", "Documents waiting for a person's review.", nil, nil),
		oldest: prometheus.NewDesc("sohoa_review_oldest_age_seconds",
			"How long the oldest document waiting for review has waited (0: none waits).", nil, nil),
	})
}

type reviewCollector struct {
	repo            *storage.Repository
	now             func() time.Time
	refresh         time.Duration
	log             *slog.Logger
	backlog, oldest *prometheus.Desc

	mu     sync.Mutex
	listed time.Time
	n      int
	since  time.Time // of the oldest; zero when none
	ok     bool
}

func (c *reviewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.oldest
}

func (c *reviewCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.ok || now.Sub(c.listed) >= c.refresh {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		entries, err := pipeline.PendingReviews(ctx, c.repo)
		cancel()
		if err != nil {
			c.log.Warn("metrics: review backlog", "err", err)
		} else {
			c.listed, c.n, c.since, c.ok = now, len(entries), time.Time{}, true
			if len(entries) > 0 {
				c.since = entries[0].Since // oldest first
			}
		}
	}
	if !c.ok {
		return
	}
	age := 0.0
	if !c.since.IsZero() {
		age = max(now.Sub(c.since).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(c.n))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// watchAudit adds the audit log's batch lag and backlog.
func (m *metrics) watchAudit(alog *audit.Log) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sohoa_audit_batch_lag_seconds",
			Help: "How long the oldest audit record not yet stored in the bucket has waited (0: all stored)."},
			func() float64 { return alog.Lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sohoa_audit_pending_records",
			Help: "Audit records written to the local write-ahead log and not yet stored in the bucket."},
			func() float64 { return float64(alog.Pending()) }),
	)
}

// ---- health ----

// readyCheck is one condition of readiness.
type readyCheck struct {
	name  string
	check func(ctx context.Context) error
}

// readiness answers /readyz: 200 when every check passes, else 503. The
// body names each check with "ok" or "failed"; the reasons go to the log
// (they name addresses, and /readyz may be reachable from further away).
func readiness(log *slog.Logger, checks ...readyCheck) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		out := map[string]string{}
		status := http.StatusOK
		for _, c := range checks {
			if err := c.check(ctx); err != nil {
				out[c.name] = "failed"
				status = http.StatusServiceUnavailable
				log.Warn("not ready", "check", c.name, "err", err)
				continue
			}
			out[c.name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": out})
	}
}

func healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, `{"status":"ok"}`)
}

// commonChecks are the readiness checks of serve and worker: Redis with
// the persistence settings checkRedis demands, the bucket versioned and
// under Object Lock, and the keys (loaded at start: a process that failed
// to load them never listens; the check says so in /readyz).
func commonChecks(cfg *config, rt *pipelineRuntime) []readyCheck {
	return []readyCheck{
		{"redis", func(ctx context.Context) error { return checkRedis(ctx, cfg) }},
		{"bucket", func(ctx context.Context) error {
			b, ok := rt.repo.Bucket().(interface{ CheckSafe(context.Context) error })
			if !ok {
				return errors.New("bucket cannot report versioning and object lock")
			}
			return b.CheckSafe(ctx)
		}},
		{"keys", func(context.Context) error {
			if rt.repo == nil {
				return errors.New("repository keys not loaded")
			}
			return nil
		}},
	}
}

// ---- the operations listener ----

// opsListener is the handler of an operations listener: /metrics,
// /healthz, /readyz and, on serve, the queue monitor.
type opsListener struct {
	metrics *metrics
	ready   http.HandlerFunc
	// queues is asynqmon at /ops/queues/ (nil: none, as on the worker),
	// opened with token or a supervisor's session (roleOf).
	queues http.Handler
	token  string
	roleOf func(*http.Request) (web.Role, error)
	log    *slog.Logger
}

func (o *opsListener) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.metrics.reg, promhttp.HandlerOpts{
		Registry: o.metrics.reg, ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", o.ready)
	if o.queues != nil {
		// Cross-site requests never reach asynqmon (its writes, when
		// enabled, are plain JSON requests a session cookie would carry).
		mux.Handle("/ops/queues/", http.NewCrossOriginProtection().Handler(o.guard(o.queues)))
		mux.Handle("GET /ops/queues", http.RedirectHandler("/ops/queues/", http.StatusMovedPermanently))
	}
	return mux
}

// guard opens h to the ops bearer token or a supervisor's staff session:
// 401 without either (or with a wrong token), 403 for another role.
func (o *opsListener) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); auth != "" {
			tok, ok := strings.CutPrefix(auth, "Bearer ")
			if ok && o.token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(o.token)) == 1 {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="sohoa-ops"`)
			http.Error(w, "wrong ops token", http.StatusUnauthorized)
			return
		}
		role, err := o.roleOf(r)
		switch {
		case err != nil:
			o.log.Error("ops: session check", "err", err)
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		case role == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="sohoa-ops"`)
			http.Error(w, "sign in as a supervisor on the staff web app (same host), or send the ops token", http.StatusUnauthorized)
		case role != web.RoleSupervisor:
			o.log.Warn("ops: queue monitor refused to a staff role", "role", string(role))
			http.Error(w, "the queue monitor is for supervisors", http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// newQueueMonitor is asynqmon at /ops/queues/, read-only unless
// SOHOA_OPS_QUEUES_WRITE.
func newQueueMonitor(cfg *config) *asynqmon.HTTPHandler {
	return asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: cfg.redisOpt(), ReadOnly: !cfg.Ops.QueuesWrite})
}
