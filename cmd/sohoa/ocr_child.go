package main

import (
	"context"
	"errors"
	"io"
)

func runOCRChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
