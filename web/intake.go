package web

import (
	"html/template"
	"net/http"
)

// intakeRoutes registers the intake pages.
func (a *App) intakeRoutes(mux *http.ServeMux) {}

// intakeFuncs are the template functions of the intake pages.
func intakeFuncs() template.FuncMap { return nil }
