package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"sohoa/ocr"
	"sohoa/ocr/tesseract"
	"sohoa/pipeline"
)

// recognizer adapts the supervised Tesseract pool to the pipeline: it turns
// the pool's "this input killed the child" and per-file timeouts into
// permanent errors with stable quarantine codes.
type recognizer struct{ pool *tesseract.Pool }

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
	return recognizer{pool}, pool.Close, nil
}

func (r recognizer) Process(ctx context.Context, data []byte, name string) ([]ocr.Page, []ocr.PageImage, error) {
	pages, imgs, err := r.pool.Process(ctx, data, name)
	switch {
	case err == nil:
		return pages, imgs, nil
	case errors.Is(err, tesseract.ErrChildCrashed):
		return nil, nil, pipeline.Permanent(pipeline.CodeOCRCrash, err)
	case errors.Is(err, tesseract.ErrTimeout):
		return nil, nil, pipeline.Permanent(pipeline.CodeOCRTimeout, err)
	}
	return nil, nil, err
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
