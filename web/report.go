package web

import (
	"html/template"
	"net/http"
)

// reportRoutes registers the report pages.
func (a *App) reportRoutes(mux *http.ServeMux) {}

// reportFuncs are the template functions of the report pages.
func reportFuncs() template.FuncMap { return nil }
