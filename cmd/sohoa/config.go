package main

// config.go is the one place sohoa reads its settings. Every setting has a
// SOHOA_* environment variable and, unless it is a secret, a flag; the
// environment gives the default and the flag wins. Subcommands receive a
// parsed *config and never read the environment themselves.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sohoa/signing"
	"sohoa/storage/s3"
)

// environ is a snapshot of the process environment (or a test's).
type environ map[string]string

// processEnv is the process environment; main and the tests pass it down.
func processEnv() environ { return environFrom(os.Environ()) }

func environFrom(kv []string) environ {
	e := environ{}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			e[k] = v
		}
	}
	return e
}

// with returns a copy of e with the given NAME=value pairs set.
func (e environ) with(kv ...string) environ {
	out := make(environ, len(e)+len(kv))
	for k, v := range e {
		out[k] = v
	}
	for k, v := range environFrom(kv) {
		out[k] = v
	}
	return out
}

// group is a set of settings a subcommand reads.
type group uint

const (
	gCore       group = 1 << iota // development mode, local folder, log level
	gRedis                        // the asynq Redis
	gStore                        // the S3 bucket and the repository key rings
	gAgency                       // who converts and where results are verified
	gSign                         // the agency's signing key
	gTrust                        // the CAs the strict verifier trusts
	gQR                           // K_qr, the key of QR verification tokens
	gAudit                        // K_audit and the audit bucket
	gIntake                       // the counter intake listener
	gStaff                        // K_staff, the key of staff account IDs
	gWeb                          // the staff web app: public URL, sessions, lockout
	gAPI                          // the reuse API listener and its clients
	gWorker                       // worker sizing and reconciling
	gOCR                          // the OCR children
	gProcedures                   // procedure codes by document type
	gBackfill                     // the source archive of `backfill --s3-bucket`
	gOps                          // serve's operations listener and its token
	gWorkerOps                    // the worker's operations listener
	gKho                          // delivery of outbox events to the citizen's data store
	gForeign                      // other agencies' CAs and the verifier children
	gLast       = gForeign
)

// config is every setting, parsed. Zero values are never used: each
// setting has a default in settings().
type config struct {
	Dev      bool
	LocalDir string
	KeysDir  string
	LogLevel string
	// ClockOffset shifts sohoa's clock (development mode only), so tests can
	// run the pipeline on other dates.
	ClockOffset time.Duration

	Redis struct {
		Addr, Password string
		DB             int
		// Sentinels and Master select Redis Sentinel: the clients ask the
		// sentinels for the current primary of Master and follow failovers.
		Sentinels, Master string
		SentinelPassword  string
	}
	S3       s3.Config
	IndexKey string // key ring "kid:hex,kid:hex…" (first is current)
	SealKey  string

	AgencyCode, AgencyName, VerifyBaseURL string

	Sign struct {
		CertFile, KeyFile    string
		P12File, P12Password string
		PKCS11               signing.PKCS11Config
		TSAURL               string
	}
	TrustCA string
	// TrustedCAs is the PEM bundle of other agencies' signer CAs: a PDF
	// that arrives signed by one of them is filed as it is.
	TrustedCAs string

	QRKey      string        // hex; else qr.key in the keys folder
	AuditKey   string        // hex; else audit.key in the keys folder
	AuditFlush time.Duration // longest a record waits in the WAL before its batch is stored

	Intake struct {
		Addr, Token              string
		MaxFiles, FilesPerMinute int
	}
	StaffKey string // hex; else staff.key in the keys folder
	Web      struct {
		PublicURL               string
		SessionIdle, SessionMax time.Duration
		MaxFailures             int
		Lockout                 time.Duration
		OIDC                    struct{ Issuer, ClientID, ClientSecret, UserClaim, Label string }
	}
	API struct{ Addr, Clients, Cert, Key, ClientCA, ReuseProcedures string }
	// VerifyChild bounds each `sohoa verify-child` that checks a PDF
	// uploaded to the reuse API.
	VerifyChild struct {
		MemLimit uint64
		Timeout  time.Duration
	}

	// Tasks is the retry budget of every task enqueued.
	Tasks struct {
		MaxRetry      int
		RetryMaxDelay time.Duration
	}
	Worker struct {
		Concurrency, OCRChildren int
		// MemLimit is the worker's Go soft memory limit, in bytes
		// (debug.SetMemoryLimit); 0: none.
		MemLimit uint64
		// TaskCheck is how long a worker with nothing to do waits before
		// it asks Redis for a task again (asynq's TaskCheckInterval,
		// jittered between half and one and a half times it).
		TaskCheck                time.Duration
		Reconcile, ReconcileFull time.Duration
		ReconcileCooldown        time.Duration
	}
	OCR struct {
		FileTimeout    time.Duration
		PageTimeout    time.Duration
		MemLimit       uint64
		Lang, Tessdata string
		// Canned is a folder of canned OCR answers (tests and the chaos
		// harness only): see ocr/tesseract.CannedHandler.
		Canned string
	}
	// Ops is the operations listeners (metrics, health, queue monitor).
	Ops struct {
		Addr, WorkerAddr, Token string
		QueuesWrite             bool
	}
	// Kho is the delivery of outbox events to the citizen's data store on
	// the National Portal (package kho).
	Kho struct {
		URL, Token          string
		Cert, Key, CA       string
		Timeout             time.Duration
		Backoff, BackoffMax time.Duration
		DeadAfter           time.Duration
		SweepEvery          time.Duration
	}
	Procedures string
	Backfill   struct {
		Endpoint, AccessKey, SecretKey string
		Secure                         optBool
	}
}

// setting is one configurable value.
type setting struct {
	env   string // SOHOA_…
	flag  string // "" for secrets: environment only
	def   string // the built-in default, as text
	usage string
	group group
	bind  func(c *config) flag.Value
}

// settings lists every setting sohoa has, in the order help shows them.
func settings() []setting {
	return []setting{
		{"SOHOA_DEV", "dev", "false", "development mode: create development keys, CA and clients under the keys folder when missing (never in production)", gCore, func(c *config) flag.Value { return (*boolValue)(&c.Dev) }},
		{"SOHOA_LOCAL_DIR", "local-dir", ".local", "folder for local state: audit write-ahead log, backfill checkpoints, development keys", gCore, func(c *config) flag.Value { return (*stringValue)(&c.LocalDir) }},
		{"SOHOA_KEYS_DIR", "keys-dir", "", "folder of key files made by `sohoa keys init` (index.key, seal.key, audit.key, qr.key, staff.key, intake.token, ops.token); development default: SOHOA_LOCAL_DIR/keys", gCore, func(c *config) flag.Value { return (*stringValue)(&c.KeysDir) }},
		{"SOHOA_CLOCK_OFFSET", "clock-offset", "0s", "development mode only: shift the clock by this much (e.g. 4380h), to test on other dates", gCore, func(c *config) flag.Value { return (*offsetValue)(&c.ClockOffset) }},
		{"SOHOA_LOG_LEVEL", "log-level", "info", "debug, info, warn or error; logs are JSON on stderr", gCore, func(c *config) flag.Value { return (*levelValue)(&c.LogLevel) }},

		{"SOHOA_REDIS_ADDR", "redis-addr", "127.0.0.1:16379", "Redis of the queues (appendonly yes, maxmemory-policy noeviction)", gRedis, func(c *config) flag.Value { return (*stringValue)(&c.Redis.Addr) }},
		{"SOHOA_REDIS_PASSWORD", "", "", "Redis password", gRedis, func(c *config) flag.Value { return (*stringValue)(&c.Redis.Password) }},
		{"SOHOA_REDIS_DB", "redis-db", "0", "Redis database number", gRedis, func(c *config) flag.Value { return (*intValue)(&c.Redis.DB) }},
		{"SOHOA_REDIS_SENTINELS", "redis-sentinels", "", "Redis Sentinel: comma-separated host:port of the sentinels; every client (queues, sessions, sign-in counts) then asks them for the current primary of SOHOA_REDIS_MASTER and follows a failover, and SOHOA_REDIS_ADDR is not used (empty: one Redis at SOHOA_REDIS_ADDR)", gRedis, func(c *config) flag.Value { return (*stringValue)(&c.Redis.Sentinels) }},
		{"SOHOA_REDIS_MASTER", "redis-master", "sohoa", "Redis Sentinel: the master name the sentinels monitor (sentinel monitor NAME …); used only with SOHOA_REDIS_SENTINELS", gRedis, func(c *config) flag.Value { return (*stringValue)(&c.Redis.Master) }},
		{"SOHOA_REDIS_SENTINEL_PASSWORD", "", "", "Redis Sentinel: password of the sentinels themselves (requirepass in sentinel.conf), if any", gRedis, func(c *config) flag.Value { return (*stringValue)(&c.Redis.SentinelPassword) }},
		{"SOHOA_TASK_MAX_RETRY", "task-max-retry", "8", "retries of a task before asynq archives it; the reconciler then gives it a new round (up to 5, then quarantine retries_exhausted)", gRedis, func(c *config) flag.Value { return (*intValue)(&c.Tasks.MaxRetry) }},
		{"SOHOA_RETRY_MAX_DELAY", "retry-max-delay", "5m", "longest wait between two retries of a task (2 s, 4 s, 8 s … up to this)", gRedis, func(c *config) flag.Value { return (*positiveDuration)(&c.Tasks.RetryMaxDelay) }},

		{"SOHOA_S3_ENDPOINT", "s3-endpoint", "127.0.0.1:17070", "S3 server host:port (MinIO, Ceph, AWS, versitygw)", gStore | gAudit, func(c *config) flag.Value { return (*stringValue)(&c.S3.Endpoint) }},
		{"SOHOA_S3_ACCESS_KEY", "", "", "S3 access key", gStore | gAudit, func(c *config) flag.Value { return (*stringValue)(&c.S3.AccessKey) }},
		{"SOHOA_S3_SECRET_KEY", "", "", "S3 secret key", gStore | gAudit, func(c *config) flag.Value { return (*stringValue)(&c.S3.SecretKey) }},
		{"SOHOA_S3_SECURE", "s3-secure", "false", "use HTTPS to the S3 server", gStore | gAudit, func(c *config) flag.Value { return (*boolValue)(&c.S3.Secure) }},
		{"SOHOA_S3_REGION", "s3-region", "", "S3 region (empty: us-east-1)", gStore | gAudit, func(c *config) flag.Value { return (*stringValue)(&c.S3.Region) }},
		{"SOHOA_S3_BUCKET", "s3-bucket-name", "sohoa", "the repository bucket (versioned, Object Lock)", gStore | gAudit, func(c *config) flag.Value { return (*stringValue)(&c.S3.Bucket) }},
		{"SOHOA_S3_CREATE", "s3-create", "true", "create the bucket, versioned and locked, when it is missing", gStore, func(c *config) flag.Value { return (*boolValue)(&c.S3.Create) }},
		{"SOHOA_LOCK_MODE", "lock-mode", "GOVERNANCE", "default retention mode of a created bucket: GOVERNANCE or COMPLIANCE", gStore, func(c *config) flag.Value {
			return (*choiceValue)(&choice{&c.S3.LockMode, []string{"GOVERNANCE", "COMPLIANCE"}})
		}},
		{"SOHOA_RETENTION_DAYS", "retention-days", "1", "default retention of a created bucket, in days", gStore, func(c *config) flag.Value { return (*positiveValue)(&c.S3.RetentionDays) }},
		{"SOHOA_INDEX_KEY", "", "", "HMAC key ring of the citizen index, kid:hex[,kid:hex…] (first is current); else index.key in the keys folder", gStore, func(c *config) flag.Value { return (*stringValue)(&c.IndexKey) }},
		{"SOHOA_SEAL_KEY", "", "", "AES-256-GCM key ring sealing personal data, kid:hex[,kid:hex…]; else seal.key in the keys folder", gStore, func(c *config) flag.Value { return (*stringValue)(&c.SealKey) }},

		{"SOHOA_AGENCY_CODE", "agency-code", "000.00.00.H00", "the converting agency's code (mã định danh đơn vị)", gAgency, func(c *config) flag.Value { return (*stringValue)(&c.AgencyCode) }},
		{"SOHOA_AGENCY_NAME", "agency-name", "Cơ quan thử nghiệm sohoa", "the converting agency's name, as stamped", gAgency, func(c *config) flag.Value { return (*stringValue)(&c.AgencyName) }},
		{"SOHOA_VERIFY_BASE_URL", "verify-base-url", "https://127.0.0.1:18443", "base of the public verification URL printed in QR codes", gAgency, func(c *config) flag.Value { return (*stringValue)(&c.VerifyBaseURL) }},

		{"SOHOA_SIGN_CERT", "sign-cert", "", "PEM certificate chain of the signing key, signing certificate first (with SOHOA_SIGN_KEY or PKCS#11)", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.CertFile) }},
		{"SOHOA_SIGN_KEY", "sign-key", "", "PEM private key file of the signing certificate", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.KeyFile) }},
		{"SOHOA_SIGN_P12", "sign-p12", "", "PKCS#12 file holding the signing key and chain", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.P12File) }},
		{"SOHOA_P12_PASSWORD", "", "", "password of SOHOA_SIGN_P12", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.P12Password) }},
		{"SOHOA_PKCS11_MODULE", "pkcs11-module", "", "PKCS#11 module of the HSM, e.g. /usr/lib/softhsm/libsofthsm2.so", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.PKCS11.Module) }},
		{"SOHOA_PKCS11_TOKEN", "pkcs11-token", "", "PKCS#11 token label", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.PKCS11.TokenLabel) }},
		{"SOHOA_PKCS11_PIN", "", "", "PKCS#11 user PIN", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.PKCS11.Pin) }},
		{"SOHOA_PKCS11_KEY", "pkcs11-key", "", "PKCS#11 label of the signing key", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.PKCS11.KeyLabel) }},
		{"SOHOA_TSA_URL", "tsa-url", "", "RFC 3161 time-stamping authority; empty: no timestamp", gSign, func(c *config) flag.Value { return (*stringValue)(&c.Sign.TSAURL) }},
		{"SOHOA_TRUST_CA", "trust-ca", "", "PEM bundle of the CAs the strict verifier trusts; development default: the development CA", gTrust, func(c *config) flag.Value { return (*stringValue)(&c.TrustCA) }},

		{"SOHOA_QR_KEY", "", "", "K_qr as hex (at least 32 bytes), keying QR verification tokens; else qr.key in the keys folder", gQR, func(c *config) flag.Value { return (*stringValue)(&c.QRKey) }},
		{"SOHOA_AUDIT_KEY", "", "", "K_audit as hex (at least 32 bytes), keying citizen hashes in audit records; else audit.key in the keys folder", gAudit, func(c *config) flag.Value { return (*stringValue)(&c.AuditKey) }},

		{"SOHOA_INTAKE_ADDR", "intake-addr", "127.0.0.1:18080", "counter intake listener: the staff web app at / and the intake API at /v1/ (plain HTTP; put it behind the office's TLS proxy)", gIntake, func(c *config) flag.Value { return (*stringValue)(&c.Intake.Addr) }},
		{"SOHOA_INTAKE_TOKEN", "", "", "bearer token scripts present to the intake API (staff sign in instead); else intake.token in the keys folder", gIntake, func(c *config) flag.Value { return (*stringValue)(&c.Intake.Token) }},
		{"SOHOA_INTAKE_MAX_FILES", "intake-max-files", "200", "files one upload (POST /v1/batches) may carry; the rest are refused one by one, unstored", gIntake, func(c *config) flag.Value { return (*positiveValue)(&c.Intake.MaxFiles) }},
		{"SOHOA_INTAKE_FILES_PER_MINUTE", "intake-files-per-minute", "60", "files one caller (remote address) may upload a minute, after a first burst of SOHOA_INTAKE_MAX_FILES; the rest are refused (429) (0: no limit)", gIntake, func(c *config) flag.Value { return (*intValue)(&c.Intake.FilesPerMinute) }},
		{"SOHOA_STAFF_KEY", "", "", "K_staff as hex (at least 32 bytes), keying staff account IDs (a user name never shows in a key, a session or an audit record); else staff.key in the keys folder", gStaff, func(c *config) flag.Value { return (*stringValue)(&c.StaffKey) }},
		{"SOHOA_PUBLIC_URL", "public-url", "", "address staff open, e.g. https://sohoa.example.gov.vn (the office's TLS proxy): https makes session cookies Secure and __Host-; empty: Secure only for requests that came over TLS", gWeb, func(c *config) flag.Value { return (*urlValue)(&c.Web.PublicURL) }},
		{"SOHOA_SESSION_IDLE", "session-idle", "30m", "a staff session unused this long ends", gWeb, func(c *config) flag.Value { return (*positiveDuration)(&c.Web.SessionIdle) }},
		{"SOHOA_SESSION_MAX", "session-max", "12h", "a staff session ends this long after sign-in, however active", gWeb, func(c *config) flag.Value { return (*positiveDuration)(&c.Web.SessionMax) }},
		{"SOHOA_SIGNIN_MAX_FAILURES", "signin-max-failures", "10", "failed sign-ins of one account within SOHOA_SIGNIN_LOCKOUT that lock it (counted in Redis, across serve processes)", gWeb, func(c *config) flag.Value { return (*positiveValue)(&c.Web.MaxFailures) }},
		{"SOHOA_SIGNIN_LOCKOUT", "signin-lockout", "15m", "window of failed sign-ins, and how long a locked account is refused, even with the right password", gWeb, func(c *config) flag.Value { return (*positiveDuration)(&c.Web.Lockout) }},
		{"SOHOA_OIDC_ISSUER", "oidc-issuer", "", "single sign-on: issuer URL of the agency's OpenID provider, exactly as its discovery document (ISSUER/.well-known/openid-configuration) states it; https outside development mode; empty: password sign-in only", gWeb, func(c *config) flag.Value { return (*issuerValue)(&c.Web.OIDC.Issuer) }},
		{"SOHOA_OIDC_CLIENT_ID", "oidc-client-id", "", "sohoa's client ID at the OpenID provider, registered with the redirect URI SOHOA_PUBLIC_URL/signin/oidc/callback", gWeb, func(c *config) flag.Value { return (*stringValue)(&c.Web.OIDC.ClientID) }},
		{"SOHOA_OIDC_CLIENT_SECRET", "", "", "sohoa's client secret at the OpenID provider; else oidc-client.secret in the keys folder", gWeb, func(c *config) flag.Value { return (*stringValue)(&c.Web.OIDC.ClientSecret) }},
		{"SOHOA_OIDC_USER_CLAIM", "oidc-user-claim", "preferred_username", "the provider's claim whose value is the staff account's user name (the account must exist and be enabled; sohoa gives role and office): preferred_username, email (only if email_verified) or another claim users cannot change themselves", gWeb, func(c *config) flag.Value { return (*claimValue)(&c.Web.OIDC.UserClaim) }},
		{"SOHOA_OIDC_LABEL", "oidc-label", "Đăng nhập bằng tài khoản một cửa", "text of the single sign-on button on the sign-in page", gWeb, func(c *config) flag.Value { return (*stringValue)(&c.Web.OIDC.Label) }},

		{"SOHOA_API_ADDR", "api-addr", "127.0.0.1:18443", "reuse API listener, TLS (empty disables it)", gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.Addr) }},
		{"SOHOA_API_CLIENTS", "api-clients", "", "clients.json: the client systems, their scopes, limits and credentials", gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.Clients) }},
		{"SOHOA_API_CERT", "api-cert", "", "PEM server certificate of the reuse API", gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.Cert) }},
		{"SOHOA_API_KEY", "api-key", "", "PEM private key file of the reuse API's server certificate", gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.Key) }},
		{"SOHOA_API_CLIENT_CA", "api-client-ca", "", "PEM CA bundle client certificates must chain to (empty: JWT clients only)", gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.ClientCA) }},
		{"SOHOA_REUSE_PROCEDURES", "reuse-procedures", "", `JSON file {"procedures": {"<procedure code>": {"name", "required_doc_types", "form_fields"}}}: the document types each procedure's dossier requires and the pre-fill fields its form needs (POST /v1/dossier-check, /v1/prefill); empty: none, or in development mode the example table api/reuse/procedures.dev.json`, gAPI, func(c *config) flag.Value { return (*stringValue)(&c.API.ReuseProcedures) }},
		{"SOHOA_AUDIT_FLUSH_EVERY", "audit-flush-every", "2s", "longest an audit record waits in the local write-ahead log (SOHOA_LOCAL_DIR/audit-wal) before its batch is stored in S3; a batch also closes at 500 records", gAPI, func(c *config) flag.Value { return (*durationValue)(&c.AuditFlush) }},
		{"SOHOA_VERIFY_MEM_LIMIT", "verify-mem-limit", "1073741824", "address space, in bytes, a verifier child may map for one PDF (an upload to /v1/verify, or a signed input in the worker) beyond its size at start (0: 1 GiB)", gAPI | gForeign, func(c *config) flag.Value { return (*uint64Value)(&c.VerifyChild.MemLimit) }},
		{"SOHOA_VERIFY_TIMEOUT", "verify-timeout", "30s", "longest a verifier child may spend on one PDF (an upload to /v1/verify, or a signed input in the worker) (0: 30s)", gAPI | gForeign, func(c *config) flag.Value { return (*durationValue)(&c.VerifyChild.Timeout) }},

		{"SOHOA_TRUSTED_CAS", "trusted-cas", "", "PEM bundle of the signer CAs of other agencies (give serve and worker the same): a PDF that arrives already signed (an e-result of another agency's software) whose signature passes the strict verifier against them is filed as it is, byte-identical, origin born_digital, with its own signer in the manifest, and POST /v1/verify reports such a file valid with anchor trusted_agency; any other signed PDF goes to review (empty: every signed PDF goes to review, and /v1/verify trusts only SOHOA_TRUST_CA)", gForeign, func(c *config) flag.Value { return (*stringValue)(&c.TrustedCAs) }},
		{"SOHOA_WORKER_CONCURRENCY", "concurrency", "0", "tasks a worker processes at once (0: its OCR children + 1, so storing and signing overlap the next file's OCR)", gWorker, func(c *config) flag.Value { return (*intValue)(&c.Worker.Concurrency) }},
		{"SOHOA_TASK_CHECK_INTERVAL", "task-check-interval", "200ms", "how long an idle worker waits before asking Redis for a task again (asynq's default is 1 s, which leaves a worker idle up to 1.5 s after its queues refill; each idle worker makes about 5 small Redis calls a second at 200 ms)", gWorker, func(c *config) flag.Value { return (*positiveDuration)(&c.Worker.TaskCheck) }},
		{"SOHOA_WORKER_MEM_LIMIT", "worker-mem-limit", "134217728", "soft limit of a worker's own Go memory, in bytes (debug.SetMemoryLimit): near it the collector runs more often and hands freed memory back to the system, so a large dossier's recognised words, record and issuing do not leave the worker holding a peak; it is not a cap (the OCR children are capped apart, SOHOA_OCR_MEM_LIMIT) (0: none)", gWorker, func(c *config) flag.Value { return (*uint64Value)(&c.Worker.MemLimit) }},
		{"SOHOA_OCR_CHILDREN", "ocr-children", "0", "OCR child processes of a worker (0: number of CPUs)", gWorker, func(c *config) flag.Value { return (*intValue)(&c.Worker.OCRChildren) }},
		{"SOHOA_RECONCILE_EVERY", "reconcile", "15s", "how often a worker reconciles: re-dispatches what inputs not yet final need and Redis does not hold (cheap: recent open markers only; 0: only at start)", gWorker, func(c *config) flag.Value { return (*durationValue)(&c.Worker.Reconcile) }},
		{"SOHOA_RECONCILE_FULL_EVERY", "reconcile-full", "1h", "how often a reconcile pass lists the whole intake instead of only the open inputs (and always at start and after Redis lost its data)", gWorker, func(c *config) flag.Value { return (*positiveDuration)(&c.Worker.ReconcileFull) }},
		{"SOHOA_RECONCILE_COOLDOWN", "reconcile-cooldown", "1m", "wait after a task exhausted its retries before the reconciler gives it a new round (×4 each round, at most 1h; after 5 rounds: quarantine retries_exhausted)", gWorker, func(c *config) flag.Value { return (*positiveDuration)(&c.Worker.ReconcileCooldown) }},

		{"SOHOA_OCR_PAGE_TIMEOUT", "ocr-page-timeout", "2m", "longest an OCR child may spend on one page (or on opening its file) before it is killed and the file quarantined ocr_timeout", gOCR, func(c *config) flag.Value { return (*durationValue)(&c.OCR.PageTimeout) }},
		{"SOHOA_OCR_FILE_TIMEOUT", "ocr-file-timeout", "5m", "overall OCR budget of a one-page file; each further page adds 30s (a 200-page dossier: 5m + 199 × 30s), its pages spread over the OCR children", gOCR, func(c *config) flag.Value { return (*durationValue)(&c.OCR.FileTimeout) }},
		{"SOHOA_OCR_MEM_LIMIT", "ocr-mem-limit", "1073741824", "memory cap of an OCR child, in bytes: its private writable memory (RLIMIT_DATA), with 4× as much address space (0: none)", gOCR, func(c *config) flag.Value { return (*uint64Value)(&c.OCR.MemLimit) }},
		{"SOHOA_OCR_LANG", "ocr-lang", "vie", "Tesseract language", gOCR, func(c *config) flag.Value { return (*stringValue)(&c.OCR.Lang) }},
		{"SOHOA_TESSDATA", "tessdata", "", "tessdata folder (empty: the library default)", gOCR, func(c *config) flag.Value { return (*stringValue)(&c.OCR.Tessdata) }},
		{"SOHOA_OCR_CANNED", "ocr-canned", "", "development mode only: a folder of canned OCR answers (NAME.ocr.json by scan SHA-256) the OCR children return instead of running Tesseract, for the chaos harness", gOCR, func(c *config) flag.Value { return (*stringValue)(&c.OCR.Canned) }},

		{"SOHOA_OPS_ADDR", "ops-addr", "127.0.0.1:18090", "serve's operations listener, plain HTTP: /metrics, /healthz, /readyz and the queue monitor at /ops/queues/ (keep it on loopback or an operations network; empty or 0 disables it)", gOps, func(c *config) flag.Value { return (*stringValue)(&c.Ops.Addr) }},
		{"SOHOA_OPS_TOKEN", "", "", "bearer token that opens the queue monitor (/ops/queues/) without a supervisor's sign-in; else ops.token in the keys folder", gOps, func(c *config) flag.Value { return (*stringValue)(&c.Ops.Token) }},
		{"SOHOA_OPS_QUEUES_WRITE", "ops-queues-write", "false", "let the queue monitor change tasks (run, delete, archive, pause queues); off: read-only", gOps, func(c *config) flag.Value { return (*boolValue)(&c.Ops.QueuesWrite) }},
		{"SOHOA_WORKER_OPS_ADDR", "ops-addr", "127.0.0.1:18091", "a worker's operations listener, plain HTTP: /metrics, /healthz, /readyz (its own port, so serve and a worker share a machine; give each further worker on a machine its own --ops-addr, or 0 to disable)", gWorkerOps, func(c *config) flag.Value { return (*stringValue)(&c.Ops.WorkerAddr) }},

		{"SOHOA_KHO_URL", "kho-url", "", "endpoint of the citizen's data store (Kho) on the National Portal that outbox events are POSTed to (https outside development mode; README: Sync to the citizen's data store); empty: events are recorded and stay pending", gKho, func(c *config) flag.Value { return (*khoURLValue)(&c.Kho.URL) }},
		{"SOHOA_KHO_TOKEN", "", "", "bearer token sent to the Kho (Authorization: Bearer); with or instead of a client certificate", gKho, func(c *config) flag.Value { return (*stringValue)(&c.Kho.Token) }},
		{"SOHOA_KHO_CERT", "kho-cert", "", "PEM client certificate (chain) sohoa presents to the Kho (mutual TLS), with SOHOA_KHO_KEY", gKho, func(c *config) flag.Value { return (*stringValue)(&c.Kho.Cert) }},
		{"SOHOA_KHO_KEY", "kho-key", "", "PEM private key file of SOHOA_KHO_CERT", gKho, func(c *config) flag.Value { return (*stringValue)(&c.Kho.Key) }},
		{"SOHOA_KHO_CA", "kho-ca", "", "PEM CA bundle the Kho's server certificate must chain to (empty: the system roots)", gKho, func(c *config) flag.Value { return (*stringValue)(&c.Kho.CA) }},
		{"SOHOA_KHO_TIMEOUT", "kho-timeout", "10s", "longest one delivery try may take before it counts as failed", gKho, func(c *config) flag.Value { return (*positiveDuration)(&c.Kho.Timeout) }},
		{"SOHOA_KHO_BACKOFF", "kho-backoff", "10s", "wait before the first retry of a failed delivery; doubles at each retry up to SOHOA_KHO_BACKOFF_MAX", gKho, func(c *config) flag.Value { return (*positiveDuration)(&c.Kho.Backoff) }},
		{"SOHOA_KHO_BACKOFF_MAX", "kho-backoff-max", "1h", "longest wait between two tries of a delivery", gKho, func(c *config) flag.Value { return (*positiveDuration)(&c.Kho.BackoffMax) }},
		{"SOHOA_KHO_DEAD_AFTER", "kho-dead-after", "168h", "an event whose delivery keeps failing this long after its first failed try is dead (dead letter, counted on the staff dashboard), and so are the later events of its result", gKho, func(c *config) flag.Value { return (*positiveDuration)(&c.Kho.DeadAfter) }},
		{"SOHOA_KHO_SWEEP_EVERY", "kho-sweep-every", "1m", "how often a worker lists the outbox and queues the delivery of every result with a pending event (the safety net under the enqueue at each change; it also writes missing outbox events at start and every 60 sweeps)", gKho, func(c *config) flag.Value { return (*positiveDuration)(&c.Kho.SweepEvery) }},

		{"SOHOA_PROCEDURES", "procedures", "", `JSON file {"doc_type": "procedure code"}: the procedure (mã TTHC) each result type is issued under; development default: placeholders DEV-<TYPE>`, gProcedures, func(c *config) flag.Value { return (*stringValue)(&c.Procedures) }},

		{"SOHOA_BACKFILL_S3_ENDPOINT", "backfill-s3-endpoint", "", "S3 server of a backfilled archive (empty: SOHOA_S3_ENDPOINT)", gBackfill, func(c *config) flag.Value { return (*stringValue)(&c.Backfill.Endpoint) }},
		{"SOHOA_BACKFILL_S3_ACCESS_KEY", "", "", "access key of the archive (empty: SOHOA_S3_ACCESS_KEY)", gBackfill, func(c *config) flag.Value { return (*stringValue)(&c.Backfill.AccessKey) }},
		{"SOHOA_BACKFILL_S3_SECRET_KEY", "", "", "secret key of the archive (empty: SOHOA_S3_SECRET_KEY)", gBackfill, func(c *config) flag.Value { return (*stringValue)(&c.Backfill.SecretKey) }},
		{"SOHOA_BACKFILL_S3_SECURE", "backfill-s3-secure", "", "HTTPS to the archive's server (empty: SOHOA_S3_SECURE)", gBackfill, func(c *config) flag.Value { return &c.Backfill.Secure }},
	}
}

// flagSet is a subcommand's flag set with the settings of its groups.
type flagSet struct {
	*flag.FlagSet
	cfg      *config
	groups   group
	envErrs  []error
	synopsis string
}

// newFlagSet makes the flag set of subcommand name: the settings of groups
// (defaults from env) plus whatever flags the caller adds before parse.
// synopsis is the usage line after "sohoa NAME".
func newFlagSet(name, synopsis string, env environ, stderr io.Writer, groups group) *flagSet {
	f := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), cfg: &config{}, groups: groups | gCore, synopsis: synopsis}
	f.SetOutput(stderr)
	for _, s := range settings() {
		v := s.bind(f.cfg)
		if err := v.Set(s.def); err != nil && s.def != "" {
			panic(fmt.Sprintf("setting %s: bad built-in default %q: %v", s.env, s.def, err))
		}
		if s.group&f.groups == 0 {
			continue // not this command's, but keep the default for derived values
		}
		if ev, ok := env[s.env]; ok {
			if err := v.Set(ev); err != nil {
				f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q: %w", s.env, ev, err))
			}
		}
		// Two settings may share a flag name when no command reads both
		// (serve's and the worker's --ops-addr).
		if s.flag != "" && f.Lookup(s.flag) == nil {
			f.Var(v, s.flag, s.usage)
		}
	}
	f.Usage = f.usage
	return f
}

// parse parses args, reports bad flags and bad environment values (exit 2,
// with usage) and returns the configuration.
func (f *flagSet) parse(args []string) (*config, error) {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &exitError{code: 2, err: err, printed: true}
	}
	if len(f.envErrs) > 0 {
		f.Usage()
		return nil, &exitError{code: 2, err: errors.Join(f.envErrs...)}
	}
	if err := f.cfg.requireProduction(f.Name(), f.groups); err != nil {
		return nil, err
	}
	if err := f.cfg.checkOIDC(f.groups); err != nil {
		return nil, err
	}
	return f.cfg, nil
}

// usageErr reports a usage mistake found after parsing: it prints usage
// and returns an exit-2 error.
func (f *flagSet) usageErr(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	fmt.Fprintf(f.Output(), "sohoa %s: %v\n", f.Name(), err)
	f.Usage()
	return &exitError{code: 2, err: err, printed: true}
}

func (f *flagSet) usage() {
	w := f.Output()
	fmt.Fprintf(w, "usage: sohoa %s %s\n\nflags (a setting's variable gives its default; the flag wins):\n", f.Name(), f.synopsis)
	meta := map[string]setting{}
	for _, s := range settings() {
		if s.flag != "" && s.group&f.groups != 0 {
			meta[s.flag] = s
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	f.VisitAll(func(fl *flag.Flag) {
		s, isSetting := meta[fl.Name]
		switch {
		case isSetting:
			fmt.Fprintf(tw, "  --%s\t%s\tdefault %s\t%s\n", fl.Name, s.env, showDefault(s.def), s.usage)
		default:
			fmt.Fprintf(tw, "  --%s\t\tdefault %s\t%s\n", fl.Name, showDefault(fl.DefValue), fl.Usage)
		}
	})
	tw.Flush()
	var secrets []setting
	for _, s := range settings() {
		if s.flag == "" && s.group&f.groups != 0 {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) > 0 {
		fmt.Fprintln(w, "\nenvironment only (secrets are never flags):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range secrets {
			fmt.Fprintf(tw, "  %s\t%s\n", s.env, s.usage)
		}
		tw.Flush()
	}
}

func showDefault(d string) string {
	if d == "" {
		return "none"
	}
	return d
}

// writeSettingsHelp lists every setting, for `sohoa help`.
func writeSettingsHelp(w io.Writer) {
	fmt.Fprintln(w, "\nsettings (environment variable, flag, default):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings() {
		fl := "(environment only)"
		if s.flag != "" {
			fl = "--" + s.flag
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.env, fl, showDefault(s.def), s.usage)
	}
	tw.Flush()
}

// settingsTable is the README's configuration table, generated from
// settings() (TestREADMEConfigTable keeps the two equal).
func settingsTable() string {
	users := map[group][]string{}
	for name, c := range commands() {
		if internalCommand(name) {
			continue
		}
		for g := group(1); g != 0 && g <= gLast; g <<= 1 {
			if (c.groups|gCore)&g != 0 {
				users[g] = append(users[g], name)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| variable | flag | default | used by | meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, s := range settings() {
		var by []string
		for g := group(1); g != 0 && g <= gLast; g <<= 1 {
			if s.group&g != 0 {
				by = append(by, users[g]...)
			}
		}
		slices.Sort(by)
		by = slices.Compact(by)
		fl, def := "–", "–"
		if s.flag != "" {
			fl = "`--" + s.flag + "`"
		}
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		usedBy := strings.Join(by, ", ")
		if s.group == gCore {
			usedBy = "all"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.env, fl, def, usedBy, strings.ReplaceAll(s.usage, "|", "\\|"))
	}
	return b.String()
}

// keysDir is where key files live: SOHOA_KEYS_DIR, or in development mode
// <local-dir>/keys.
func (c *config) keysDir() string {
	if c.KeysDir != "" || !c.Dev {
		return c.KeysDir
	}
	return filepath.Join(c.LocalDir, "keys")
}

// devSigningDir holds the development signing key and CA.
func (c *config) devSigningDir() string { return filepath.Join(c.keysDir(), "signing") }

// backfillS3 is the archive's S3 settings, each falling back to the
// repository's.
func (c *config) backfillS3(bucket string) s3.Config {
	b := c.Backfill
	or := func(v, def string) string {
		if v != "" {
			return v
		}
		return def
	}
	out := s3.Config{
		Endpoint:  or(b.Endpoint, c.S3.Endpoint),
		AccessKey: or(b.AccessKey, c.S3.AccessKey),
		SecretKey: or(b.SecretKey, c.S3.SecretKey),
		Secure:    c.S3.Secure,
		Bucket:    bucket,
	}
	if b.Secure.set {
		out.Secure = b.Secure.v
	}
	return out
}

// ---- production checks ----

// missingKeys lists what a production start of a command with groups lacks:
// development keys are made only in development mode, so without it every
// key must be given. Each entry names the setting and how to make it.
func (c *config) missingKeys(groups group) []string {
	if c.Dev {
		return nil
	}
	var miss []string
	file := func(name string) bool {
		if c.KeysDir == "" {
			return false
		}
		_, err := os.Stat(filepath.Join(c.KeysDir, name))
		return err == nil
	}
	need := func(value, env, fileName string) {
		if value == "" && !file(fileName) {
			miss = append(miss, fmt.Sprintf("%s (or %s in SOHOA_KEYS_DIR)", env, fileName))
		}
	}
	if groups&gStore != 0 {
		need(c.IndexKey, "SOHOA_INDEX_KEY", "index.key")
		need(c.SealKey, "SOHOA_SEAL_KEY", "seal.key")
	}
	if groups&gQR != 0 {
		need(c.QRKey, "SOHOA_QR_KEY", "qr.key")
	}
	if groups&gAudit != 0 {
		need(c.AuditKey, "SOHOA_AUDIT_KEY", "audit.key")
	}
	if groups&gIntake != 0 {
		need(c.Intake.Token, "SOHOA_INTAKE_TOKEN", "intake.token")
	}
	if groups&gStaff != 0 {
		need(c.StaffKey, "SOHOA_STAFF_KEY", "staff.key")
	}
	if groups&gOps != 0 && opsAddr(c.Ops.Addr) != "" {
		need(c.Ops.Token, "SOHOA_OPS_TOKEN", "ops.token")
	}
	if groups&gSign != 0 && c.Sign.PKCS11.Module == "" && c.Sign.P12File == "" && c.Sign.KeyFile == "" {
		miss = append(miss, "SOHOA_SIGN_KEY with SOHOA_SIGN_CERT, or SOHOA_SIGN_P12, or SOHOA_PKCS11_MODULE (the agency's signing key)")
	}
	if groups&gTrust != 0 && c.TrustCA == "" {
		miss = append(miss, "SOHOA_TRUST_CA (the CAs whose signatures the verifier accepts)")
	}
	if groups&gAPI != 0 && c.API.Addr != "" {
		for _, s := range []struct{ v, env string }{
			{c.API.Clients, "SOHOA_API_CLIENTS"}, {c.API.Cert, "SOHOA_API_CERT"}, {c.API.Key, "SOHOA_API_KEY"},
		} {
			if s.v == "" {
				miss = append(miss, s.env+" (reuse API; or set SOHOA_API_ADDR= to disable it)")
			}
		}
	}
	if groups&gProcedures != 0 && c.Procedures == "" {
		miss = append(miss, "SOHOA_PROCEDURES (the procedure codes results are issued under)")
	}
	return miss
}

// requireProduction refuses a production start that lacks keys, before
// anything is created or opened.
func (c *config) requireProduction(cmd string, groups group) error {
	if c.ClockOffset != 0 && !c.Dev {
		return &exitError{code: 2, err: errors.New("SOHOA_CLOCK_OFFSET is for development mode only")}
	}
	if c.OCR.Canned != "" && !c.Dev {
		return &exitError{code: 2, err: errors.New("SOHOA_OCR_CANNED is for development mode only")}
	}
	if groups&gKho != 0 {
		if err := c.checkKho(); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	miss := c.missingKeys(groups)
	if len(miss) == 0 {
		return nil
	}
	return &exitError{code: 2, err: fmt.Errorf("refusing to start %s without its keys (not in development mode):\n  missing %s\n"+
		"Create key files with `sohoa keys init DIR` and set SOHOA_KEYS_DIR=DIR, give the signing key and CAs (see README, Configuration), "+
		"or set SOHOA_DEV=1 for a development instance with generated keys",
		cmd, strings.Join(miss, "\n  missing "))}
}

// ---- flag values: one parser for each kind of value ----

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := parseBool(s)
	*v = boolValue(b)
	return err
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

// parseBool is the one boolean parser: 1/0, true/false, yes/no, on/off.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a whole number")
	}
	if n < 0 {
		return errors.New("want zero or more")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

type positiveValue int

func (v *positiveValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return errors.New("want a positive whole number")
	}
	*v = positiveValue(n)
	return nil
}
func (v *positiveValue) String() string { return strconv.Itoa(int(*v)) }

type uint64Value uint64

func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("want a number of bytes")
	}
	*v = uint64Value(n)
	return nil
}
func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return errors.New("want a duration such as 90s or 10m")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

// positiveDuration is a duration above zero.
type positiveDuration time.Duration

func (v *positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 30m or 12h")
	}
	*v = positiveDuration(d)
	return nil
}
func (v *positiveDuration) String() string { return time.Duration(*v).String() }

// checkKho refuses Kho settings that cannot work or would send holder IDs
// in clear: plain http outside development mode, half a client
// certificate.
func (c *config) checkKho() error {
	k := c.Kho
	switch {
	case k.URL != "" && !c.Dev && !strings.HasPrefix(k.URL, "https://"):
		return errors.New("SOHOA_KHO_URL must be https outside development mode (events carry the holder's ID)")
	case (k.Cert == "") != (k.Key == ""):
		return errors.New("SOHOA_KHO_CERT and SOHOA_KHO_KEY go together")
	}
	return nil
}

// khoURLValue is empty or an http(s) URL without user info.
type khoURLValue string

func (v *khoURLValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
			return errors.New("want an https:// URL of the Kho endpoint (no user info)")
		}
	}
	*v = khoURLValue(s)
	return nil
}
func (v *khoURLValue) String() string { return string(*v) }

// urlValue is empty or an http(s) URL of a host, without a path.
type urlValue string

func (v *urlValue) Set(s string) error {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return errors.New("want https://host[:port] (or http://)")
		}
	}
	*v = urlValue(s)
	return nil
}
func (v *urlValue) String() string { return string(*v) }

// offsetValue is a duration that may be negative.
type offsetValue time.Duration

func (v *offsetValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a duration such as 720h or -24h")
	}
	*v = offsetValue(d)
	return nil
}
func (v *offsetValue) String() string { return time.Duration(*v).String() }

// now is sohoa's clock: the system clock, shifted by SOHOA_CLOCK_OFFSET.
func (c *config) now() time.Time { return time.Now().Add(c.ClockOffset) }

type levelValue string

func (v *levelValue) Set(s string) error {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "debug", "info", "warn", "error":
		*v = levelValue(l)
		return nil
	}
	return errors.New("want debug, info, warn or error")
}
func (v *levelValue) String() string { return string(*v) }

type choice struct {
	p       *string
	allowed []string
}
type choiceValue choice

func (v *choiceValue) Set(s string) error {
	u := strings.ToUpper(strings.TrimSpace(s))
	if !slices.Contains(v.allowed, u) {
		return fmt.Errorf("want one of %s", strings.Join(v.allowed, ", "))
	}
	*v.p = u
	return nil
}
func (v *choiceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// optBool is a boolean that may be unset ("": fall back to another setting).
type optBool struct{ set, v bool }

func (o *optBool) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		*o = optBool{}
		return nil
	}
	b, err := parseBool(s)
	*o = optBool{set: true, v: b}
	return err
}

func (o *optBool) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatBool(o.v)
}
