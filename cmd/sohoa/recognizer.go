package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"sohoa/ocr/tesseract"
	"sohoa/pipeline"
)

// The OCR stage streams an intake into the pool's spool (pipeline.FileRecognizer).
var _ pipeline.FileRecognizer = (*tesseract.Pool)(nil)

// newRecognizer starts the supervised Tesseract pool the OCR stage runs.
// Its poison-input errors carry their quarantine codes; pipeline classifies
// them.
func newRecognizer(cfg *config, children int, log *slog.Logger, obs tesseract.PoolObserver) (*tesseract.Pool, error) {
	// Tesseract and Leptonica print warnings on stderr; keep them in the
	// structured log, at debug level, instead of the terminal.
	return newOCRPool(cfg, children, log, &lineLogger{log: log, msg: "ocr child stderr"}, obs)
}

// newOCRPool starts the supervised OCR children with cfg's OCR settings;
// the children read them from the environment they are given.
func newOCRPool(cfg *config, children int, log *slog.Logger, stderr io.Writer, obs tesseract.PoolObserver) (*tesseract.Pool, error) {
	pool, err := tesseract.NewPool(tesseract.PoolOptions{
		Workers:     children,
		FileTimeout: cfg.OCR.FileTimeout,
		PageTimeout: cfg.OCR.PageTimeout,
		Logger:      log,
		Stderr:      stderr,
		Observer:    obs,
		Env: []string{
			"SOHOA_OCR_MEM_LIMIT=" + strconv.FormatUint(cfg.OCR.MemLimit, 10),
			"SOHOA_OCR_LANG=" + cfg.OCR.Lang,
			"SOHOA_TESSDATA=" + cfg.OCR.Tessdata,
			"SOHOA_OCR_CANNED=" + cfg.OCR.Canned,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start OCR pool: %w", err)
	}
	return pool, nil
}

// lineLogger turns written lines into debug log records.
type lineLogger struct {
	log  *slog.Logger
	msg  string
	mu   sync.Mutex
	part []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.part[:i])); line != "" {
			l.log.Debug(l.msg, "line", line)
		}
		l.part = l.part[i+1:]
	}
	if len(l.part) > 4096 {
		l.log.Debug(l.msg, "line", string(l.part))
		l.part = l.part[:0]
	}
	return len(p), nil
}
