package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc is the OpenAPI 3 description of every route Register mounts;
// TestOpenAPIMatchesRoutes keeps the two in step.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document (YAML) of the REST API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// onOpenAPI is GET /openapi.yaml.
func (s *Server) onOpenAPI(ec echo.Context) error {
	return ec.Blob(http.StatusOK, "application/yaml", openAPIDoc)
}
