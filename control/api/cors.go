package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// memberCORS lets web apps on any origin call the Member API, its event source
// and chat socket included: a member authenticates with a bearer token it holds
// (header or accessToken query), never with a cookie, so no origin gains
// anything a token does not already give (no Allow-Credentials). Preflights are
// answered before routing. The App API (Basic auth with the app's secret) is
// for servers and gets no CORS headers: a browser page cannot use it.
func memberCORS() echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper: func(ec echo.Context) bool {
			return !strings.HasPrefix(ec.Request().URL.Path, "/v2/members/")
		},
		AllowOrigins:  []string{"*"},
		AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "Last-Event-ID"},
		ExposeHeaders: []string{"Retry-After"},
		MaxAge:        86400,
	})
}
