package load

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp/message"
)

// ErrPublishRefused is wrapped by publish errors the server answered with an error
// status (NetStream.Publish.BadName, .Failed, …) or by closing the connection.
var ErrPublishRefused = errors.New("publish refused")

// rtmpStatus is one onStatus the server sent on the publish stream.
type rtmpStatus struct {
	Level, Code, Description string
}

func (s rtmpStatus) ok() bool { return s.Code == "NetStream.Publish.Start" }

func (s rtmpStatus) refused() bool {
	return s.Level == "error" || strings.Contains(s.Code, "BadName") ||
		strings.Contains(s.Code, "Failed") || strings.Contains(s.Code, "Rejected")
}

// statusLogger is the logrus logger handed to go-rtmp's client. go-rtmp v0.0.7 has no
// decoder for onStatus: it logs the undecoded command through Warnf and drops it.
// statusLogger catches that call and forwards the status, so the publisher learns
// whether its publish was accepted. Everything else go-rtmp logs is discarded.
type statusLogger struct {
	*logrus.Logger
	statuses chan rtmpStatus
}

func newStatusLogger() *statusLogger {
	l := logrus.New()
	l.Out = io.Discard
	return &statusLogger{Logger: l, statuses: make(chan rtmpStatus, 8)}
}

// Warnf implements logrus.FieldLogger.
func (l *statusLogger) Warnf(format string, args ...any) {
	for _, a := range args {
		e, ok := a.(*message.UnknownCommandBodyDecodeError)
		if !ok || e.Name != "onStatus" {
			continue
		}
		st := statusFromObjs(e.Objs)
		select {
		case l.statuses <- st:
		default: // nobody waits any more; statuses after publish start are not needed
		}
	}
}

func statusFromObjs(objs []any) rtmpStatus {
	for _, o := range objs {
		var m map[string]any
		switch v := o.(type) {
		case map[string]any:
			m = v
		case amf0.ECMAArray:
			m = v
		default:
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		return rtmpStatus{Level: str("level"), Code: str("code"), Description: str("description")}
	}
	return rtmpStatus{Code: fmt.Sprintf("unparsed onStatus %v", objs)}
}
