package web

import (
	"html/template"
	"net/http"
)

// resultRoutes registers the result pages.
func (a *App) resultRoutes(mux *http.ServeMux) {}

// resultFuncs are the template functions of the result pages.
func resultFuncs() template.FuncMap { return nil }
