package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
