package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"sohoa/ocr/tesseract"
	"sohoa/pipeline"
)

// newRecognizer starts the supervised Tesseract pool the OCR stage runs.
// Its poison-input errors carry their quarantine codes; pipeline classifies
// them.
func newRecognizer(ctx context.Context, children int, log *slog.Logger) (pipeline.Recognizer, func() error, error) {
	pool, err := tesseract.NewPool(tesseract.PoolOptions{
		Workers:     children,
		FileTimeout: time.Duration(envInt("SOHOA_OCR_FILE_TIMEOUT_SEC", 300)) * time.Second,
		Logger:      log,
		// Tesseract and Leptonica print warnings on stderr; keep them in
		// the structured log, at debug level, instead of the terminal.
		Stderr: &lineLogger{log: log, msg: "ocr child stderr"},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start OCR pool: %w", err)
	}
	return pool, pool.Close, nil
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
