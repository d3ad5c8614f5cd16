// This file owns the JSON answers of sohoa's HTTP APIs, the reuse API here
// and the intake API of package pipeline: the content headers and the
// {"error":{"code","message"}} envelope.

package api

import (
	"encoding/json"
	"net/http"
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError writes {"error":{"code","message"}} with status, never
// cached. Messages are fixed strings: never input echoed back.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, status, b)
}

// WriteJSON writes v as JSON with status. The answer is not cached unless
// the handler set a Cache-Control of its own.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
