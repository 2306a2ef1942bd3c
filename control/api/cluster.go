package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/cluster"
	"github.com/roomcast/roomcast/control"
)

// clusterNodesJSON is the answer of GET /v2/cluster/nodes.
type clusterNodesJSON struct {
	Nodes []cluster.NodeInfo `json:"nodes"`
}

// onClusterNodes lists the live nodes (their URLs, publishers, viewers and
// load) to the operator: the App API credentials of the default app, which
// owns the installation.
func (s *Server) onClusterNodes(ec echo.Context) error {
	if appOf(ec).ID != 1 {
		return control.ErrNotOperator
	}
	if s.Nodes == nil {
		return echo.ErrNotFound
	}
	nodes, err := s.Nodes(ec.Request().Context())
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []cluster.NodeInfo{}
	}
	return ec.JSON(http.StatusOK, clusterNodesJSON{Nodes: nodes})
}
