package load

import (
	"os"
	"time"
)

// Report is the result of a run; the command prints it as a table and writes it as JSON.
type Report struct {
	Tool        string          `json:"tool"`
	StartedAt   time.Time       `json:"started_at"`
	Elapsed     float64         `json:"elapsed_s"`
	Interrupted bool            `json:"interrupted"` // stopped by Ctrl-C / cancel before --duration
	Config      ReportConfig    `json:"config"`
	Publish     PublishTotals   `json:"publish"`
	View        ViewReport      `json:"view"`
	Server      *ResourceReport `json:"server,omitempty"`
	LoadTool    ResourceReport  `json:"load_tool"`
	Streams     []StreamReport  `json:"streams"`
}

// ReportConfig is the run's configuration without secrets.
type ReportConfig struct {
	File       string  `json:"file,omitempty"`
	PublishURL string  `json:"publish_url,omitempty"`
	ViewURL    string  `json:"view_url,omitempty"`
	Streams    int     `json:"streams"`
	Viewers    int     `json:"viewers_per_stream"`
	Viewer     string  `json:"viewer"`
	Fast       bool    `json:"fast"`
	Duration   float64 `json:"duration_s"`
	LagLimitMS float64 `json:"lag_limit_ms"`
	Setup      bool    `json:"setup"`
	API        string  `json:"api,omitempty"`
	LoopS      float64 `json:"media_loop_s,omitempty"`
}

// PublishTotals sums the publishers.
type PublishTotals struct {
	Streams         int     `json:"streams"`
	Published       int     `json:"published"` // streams that got NetStream.Publish.Start at least once
	PublishingAtEnd int     `json:"publishing_at_end"`
	KeptRealtime    int     `json:"kept_realtime"` // streams whose max lag stayed ≤ --lag-limit
	Refused         int64   `json:"refused"`
	ConnectFailures int64   `json:"connect_failures"`
	Disconnects     int64   `json:"disconnects"`
	WriteErrors     int64   `json:"write_errors"`
	SetupFailures   int     `json:"setup_failures"`
	Bytes           int64   `json:"bytes"`
	Tags            int64   `json:"tags"`
	MediaSeconds    float64 `json:"media_s"`
	MaxLagMS        float64 `json:"max_lag_ms"` // worst stream
	FinalLag        Summary `json:"final_lag"`  // over streams
}

// PublishReport is one publisher. Bytes count FLV tag payloads.
type PublishReport struct {
	Attempts        int64   `json:"attempts"`
	Publishes       int64   `json:"publishes"`
	Refused         int64   `json:"refused"`
	ConnectFailures int64   `json:"connect_failures"`
	Disconnects     int64   `json:"disconnects"`
	WriteErrors     int64   `json:"write_errors"`
	Bytes           int64   `json:"bytes"`
	Tags            int64   `json:"tags"`
	MediaSeconds    float64 `json:"media_s"`
	Kbps            float64 `json:"kbps"`
	MaxLagMS        float64 `json:"max_lag_ms"`
	FinalLagMS      float64 `json:"final_lag_ms"`
	LateTags        int64   `json:"late_tags"`
	KeptRealtime    bool    `json:"kept_realtime"`
	PublishingAtEnd bool    `json:"publishing_at_end"`
	LastError       string  `json:"last_error,omitempty"`
}

// KindReport is one request kind.
type KindReport struct {
	OK              uint64  `json:"ok"`
	Errors          int64   `json:"errors"`
	StatusErrors    int64   `json:"status_errors"`
	TransportErrors int64   `json:"transport_errors"`
	Bytes           int64   `json:"bytes"`
	Latency         Summary `json:"latency"`
}

// ViewReport is the viewers of one stream, or of all streams in Report.View.
type ViewReport struct {
	Viewers       int                   `json:"viewers"`
	Requests      map[string]KindReport `json:"requests"`
	OK            uint64                `json:"ok"`
	Errors        int64                 `json:"errors"`
	Bytes         int64                 `json:"bytes"`
	RequestsPerS  float64               `json:"requests_per_s"`
	PartAge       Summary               `json:"part_age"`       // playlist arrival − part end (PDT)
	SegmentAge    Summary               `json:"segment_age"`    // playlist arrival − segment end (PDT)
	FirstPlayable Summary               `json:"first_playable"` // publish start → first part/segment fetched
	StartRetries  int64                 `json:"start_retries"`
	StartFailures int64                 `json:"start_failures"`
	Skipped       int64                 `json:"skipped"` // media loads dropped: viewer too far behind
	LastError     string                `json:"last_error,omitempty"`
}

// StreamReport is one stream.
type StreamReport struct {
	Index      int            `json:"index"`
	Key        string         `json:"key,omitempty"` // redacted
	PublishURL string         `json:"publish_url,omitempty"`
	ViewURL    string         `json:"view_url,omitempty"`
	RoomID     string         `json:"room_id,omitempty"`
	SetupError string         `json:"setup_error,omitempty"`
	Publish    *PublishReport `json:"publish,omitempty"`
	View       *ViewReport    `json:"view,omitempty"`
}

// OK reports whether the stream had no problem worth a line in the table.
func (s StreamReport) OK() bool {
	if s.SetupError != "" {
		return false
	}
	if p := s.Publish; p != nil && (p.Publishes == 0 || !p.KeptRealtime || p.Disconnects > 0 || p.Refused > 0 || p.WriteErrors > 0) {
		return false
	}
	return s.View == nil || (s.View.Errors == 0 && s.View.StartFailures == 0 && s.View.Skipped == 0)
}

func (r *Runner) report(interrupted bool) *Report {
	elapsed := time.Since(r.started)
	c := &r.Config
	rep := &Report{
		Tool: "roomcast-load", StartedAt: r.started, Elapsed: round3(elapsed.Seconds()), Interrupted: interrupted,
		Config: ReportConfig{
			File: c.File, PublishURL: c.PublishURL, ViewURL: c.ViewURL, Streams: c.Streams, Viewers: c.Viewers,
			Viewer: string(c.Viewer), Fast: c.Fast, Duration: c.Duration.Seconds(), LagLimitMS: ms(c.LagLimit),
			Setup: c.Setup(), API: c.APIURL,
		},
		LoadTool: r.self.report(os.Getpid(), c.Streams),
	}
	if c.NoPublish {
		rep.Config.PublishURL = ""
	}
	if r.media != nil {
		rep.Config.LoopS = r.media.LoopDuration.Seconds()
	}
	if r.server != nil {
		sr := r.server.report(c.PID, c.Streams)
		rep.Server = &sr
	}
	all := newViewAgg()
	var finals Histogram
	for _, s := range r.streams {
		sr := r.streamReport(s, elapsed)
		rep.Streams = append(rep.Streams, sr)
		addPublish(&rep.Publish, sr, &finals)
		if sr.View != nil {
			all.add(&s.views, sr.View.Viewers)
		}
	}
	rep.Publish.Streams = len(r.streams)
	rep.Publish.FinalLag = finals.Summary()
	rep.View = all.report(elapsed)
	return rep
}
