package api

import (
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/roomcast/roomcast/control"
)

// jsonBufs recycles response buffers of hand-written JSON bodies.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeRoomJSON writes j with status code: the bytes of ec.JSON (encoding/json
// plus its newline, application/json), built without reflection. ?pretty and
// echo's Debug mode still go through ec.JSON for the indentation.
func writeRoomJSON(ec echo.Context, code int, j *control.RoomJSON) error {
	if ec.Echo().Debug || ec.Request().URL.RawQuery != "" && ec.QueryParams().Has("pretty") {
		return ec.JSON(code, j)
	}
	bp := jsonBufs.Get().(*[]byte)
	b := append(j.AppendJSON((*bp)[:0]), '\n')
	err := ec.JSONBlob(code, b)
	if cap(b) <= 64<<10 { // do not keep rare huge bodies alive
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
	return err
}
