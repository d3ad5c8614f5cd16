package web

import (
	"html/template"
	"net/http"
)

// reviewRoutes registers the review pages.
func (a *App) reviewRoutes(mux *http.ServeMux) {}

// reviewFuncs are the template functions of the review pages.
func reviewFuncs() template.FuncMap { return nil }
