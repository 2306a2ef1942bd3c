package load

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// maxStreamRows is how many per-stream rows the table shows when all are fine.
const maxStreamRows = 20

// WriteTable prints the report as a human-readable summary.
func WriteTable(w io.Writer, rep *Report) {
	c := rep.Config
	state := "completed"
	if rep.Interrupted {
		state = "interrupted"
	}
	fmt.Fprintf(w, "roomcast-load: %d streams × %d %s viewers, %.1f s (%s)\n", c.Streams, c.Viewers, c.Viewer, rep.Elapsed, state)
	if c.PublishURL != "" {
		writePublish(w, rep)
	}
	if c.Viewers > 0 {
		writeView(w, rep.View)
	}
	if s := rep.Server; s != nil {
		fmt.Fprintf(w, "SERVER   pid %d: cpu %.2f%% of one core (%.3f%%/stream, worst second %.1f%%), rss %.1f MiB (start %.1f, max %.1f, +%.3f MiB/stream)%s\n",
			s.PID, s.CPUPercent, s.CPUPerStream, s.CPUPercentMax, s.RSSEndMiB, s.RSSStartMiB, s.RSSMaxMiB, s.RSSPerStreamMiB, errSuffix(s.Error))
	}
	lt := rep.LoadTool
	fmt.Fprintf(w, "LOADTOOL cpu %.2f%% of one core (worst second %.1f%%), rss %.1f MiB\n", lt.CPUPercent, lt.CPUPercentMax, lt.RSSEndMiB)
	writeStreams(w, rep)
}

func writePublish(w io.Writer, rep *Report) {
	p := rep.Publish
	rt := fmt.Sprintf("%d/%d kept real time (lag ≤ %.0f ms)", p.KeptRealtime, p.Streams, rep.Config.LagLimitMS)
	if rep.Config.Fast {
		rt = fmt.Sprintf("--fast: %.1f× real time", p.MediaSeconds/max(rep.Elapsed, 0.001)/float64(max(p.Published, 1)))
	}
	fmt.Fprintf(w, "PUBLISH  %d/%d published, %d at end, %s\n", p.Published, p.Streams, p.PublishingAtEnd, rt)
	fmt.Fprintf(w, "         sent %.1f MB in %d tags (%.1f media s), lag max %.1f ms, final lag p50 %.1f p99 %.1f ms\n",
		float64(p.Bytes)/1e6, p.Tags, p.MediaSeconds, p.MaxLagMS, p.FinalLag.P50, p.FinalLag.P99)
	fmt.Fprintf(w, "         refused %d, connect failures %d, disconnects %d, write errors %d, setup failures %d\n",
		p.Refused, p.ConnectFailures, p.Disconnects, p.WriteErrors, p.SetupFailures)
}

func writeView(w io.Writer, v ViewReport) {
	fmt.Fprintf(w, "VIEW     %d viewers, %d ok, %d errors, %.1f req/s, %.1f MB; start retries %d, start failures %d, skipped loads %d\n",
		v.Viewers, v.OK, v.Errors, v.RequestsPerS, float64(v.Bytes)/1e6, v.StartRetries, v.StartFailures, v.Skipped)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tkind\tok\terrors\tp50 ms\tp99 ms\tmax ms\tMB\t")
	for k := range numKinds {
		kr, ok := v.Requests[reqKind(k).String()]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t\n", reqKind(k), kr.OK, kr.Errors,
			kr.Latency.P50, kr.Latency.P99, kr.Latency.Max, float64(kr.Bytes)/1e6)
	}
	for _, a := range []struct {
		name string
		s    Summary
	}{{"part age", v.PartAge}, {"segment age", v.SegmentAge}, {"first playable", v.FirstPlayable}} {
		fmt.Fprintf(tw, "\t%s\t%d\t\t%.1f\t%.1f\t%.1f\t\t\n", a.name, a.s.Count, a.s.P50, a.s.P99, a.s.Max)
	}
	_ = tw.Flush()
	if v.LastError != "" {
		fmt.Fprintf(w, "         last viewer error: %s\n", v.LastError)
	}
}

func writeStreams(w io.Writer, rep *Report) {
	rows, hidden := streamRows(rep.Streams)
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tkey\tMB\tkbps\tmax lag ms\tfinal lag ms\trt\tdisc\trefused\tview err\tpart age p99\terror")
	for _, s := range rows {
		fmt.Fprintf(tw, "%d\t%s\t", s.Index, s.Key)
		if p := s.Publish; p != nil {
			fmt.Fprintf(tw, "%.2f\t%.0f\t%.1f\t%.1f\t%v\t%d\t%d\t", float64(p.Bytes)/1e6, p.Kbps, p.MaxLagMS, p.FinalLagMS,
				p.KeptRealtime, p.Disconnects, p.Refused)
		} else {
			fmt.Fprint(tw, "-\t-\t-\t-\t-\t-\t-\t")
		}
		if v := s.View; v != nil {
			fmt.Fprintf(tw, "%d\t%.1f\t", v.Errors+v.StartFailures, v.PartAge.P99)
		} else {
			fmt.Fprint(tw, "-\t-\t")
		}
		fmt.Fprintf(tw, "%s\n", streamErr(s))
	}
	_ = tw.Flush()
	if hidden > 0 {
		fmt.Fprintf(w, "(%d more streams without problems; see --json)\n", hidden)
	}
}

// streamRows is every stream when there are few, else the ones with problems first.
func streamRows(all []StreamReport) ([]StreamReport, int) {
	if len(all) <= maxStreamRows {
		return all, 0
	}
	var bad []StreamReport
	for _, s := range all {
		if !s.OK() {
			bad = append(bad, s)
		}
	}
	return bad, len(all) - len(bad)
}

func streamErr(s StreamReport) string {
	switch {
	case s.SetupError != "":
		return "setup: " + s.SetupError
	case s.Publish != nil && s.Publish.LastError != "":
		return s.Publish.LastError
	case s.View != nil && s.View.LastError != "":
		return s.View.LastError
	}
	return ""
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " [" + e + "]"
}
