package load

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// startProgress prints one line every Config.Progress to r.Progress.
func (r *Runner) startProgress(ctx context.Context) {
	if r.Progress == nil || r.Config.Progress == 0 {
		return
	}
	r.goRun(func() {
		t := time.NewTicker(r.Config.Progress)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintln(r.Progress, r.progressLine())
			}
		}
	})
}

// progressLine summarises the run so far in one line.
func (r *Runner) progressLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%5.0fs]", time.Since(r.started).Seconds())
	if !r.Config.NoPublish {
		r.progressPublish(&b)
	}
	if r.Config.Viewers > 0 {
		r.progressView(&b)
	}
	if r.server != nil {
		cpu, rss := r.server.current()
		fmt.Fprintf(&b, " | server cpu %.1f%% rss %.0fMiB", cpu, rss)
	}
	cpu, _ := r.self.current()
	fmt.Fprintf(&b, " | load-tool cpu %.1f%%", cpu)
	return b.String()
}

func (r *Runner) progressPublish(b *strings.Builder) {
	var live, refused, fails, disc int64
	var bytes int64
	var maxLag, curLag time.Duration
	for _, s := range r.streams {
		if s.pub == nil {
			continue
		}
		st := &s.pub.stats
		if st.publishing.Load() {
			live++
		}
		refused += st.refused.Load()
		fails += st.connFails.Load()
		disc += st.disconnects.Load()
		bytes += st.bytes.Load()
		maxLag = max(maxLag, time.Duration(st.maxLag.Load()))
		curLag = max(curLag, time.Duration(st.finalLag.Load()))
	}
	fmt.Fprintf(b, " pub %d/%d live, %.1f MB, lag now %s max %s, refused %d, conn-fail %d, disc %d",
		live, len(r.streams), float64(bytes)/1e6, curLag.Round(time.Millisecond), maxLag.Round(time.Millisecond),
		refused, fails, disc)
}

func (r *Runner) progressView(b *strings.Builder) {
	agg := newViewAgg()
	var running int64
	for _, s := range r.streams {
		agg.add(&s.views, r.Config.Viewers)
		running += s.views.running.Load()
	}
	v := agg.report(time.Since(r.started))
	fmt.Fprintf(b, " | view %d run, %d req (%.0f/s), err %d, part age p99 %.1fms",
		running, v.OK, v.RequestsPerS, v.Errors, v.PartAge.P99)
}
