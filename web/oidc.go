package web

import "net/http"

// oidcRoutes registers the oidc pages.
func (a *App) oidcRoutes(mux *http.ServeMux) {}
