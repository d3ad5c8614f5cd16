// This file owns the quarantine record of an input that failed permanently.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sohoa/storage"
)

// QuarantineItem records an input that cannot be processed. The original
// bytes stay untouched under the intake key.
type QuarantineItem struct {
	InputKey  string    `json:"input_key"`
	IntakeKey string    `json:"intake_key"`
	File      string    `json:"file"`
	Stage     string    `json:"stage"`
	Code      string    `json:"code"`
	Error     string    `json:"error"`
	At        time.Time `json:"at"`
}

func (p *Pipeline) quarantine(ctx context.Context, stage, inputKey, code string, cause error) error {
	name := ""
	if _, meta, err := p.intakeMeta(ctx, inputKey); err == nil {
		name = meta.Name
	}
	q := QuarantineItem{
		InputKey:  inputKey,
		IntakeKey: storage.IntakeKey(inputKey),
		File:      name,
		Stage:     stage,
		Code:      code,
		Error:     cause.Error(),
		At:        p.o.Now().UTC(),
	}
	if err := p.o.Repo.PutSealedJSON(ctx, storage.QuarantineKey(inputKey), q); err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("write quarantine record: %w", err)
	}
	return nil
}
