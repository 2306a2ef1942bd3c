//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// progress follows ffmpeg's `-progress pipe:1` output: the media time written so far.
type progress struct {
	mu      sync.Mutex
	outTime time.Duration
	first   time.Time // wall clock of the first report with media
	last    time.Time // wall clock of the latest report that advanced
	ended   bool      // progress=end seen
}

func (p *progress) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		p.mu.Lock()
		switch k {
		case "out_time_us":
			if us, err := strconv.ParseInt(v, 10, 64); err == nil && us > 0 {
				d := time.Duration(us) * time.Microsecond
				now := time.Now()
				if p.first.IsZero() {
					p.first = now
				}
				if d > p.outTime {
					p.outTime, p.last = d, now
				}
			}
		case "progress":
			p.ended = v == "end"
		}
		p.mu.Unlock()
	}
}

// snapshot returns the media time so far, when media first and last advanced, and
// whether ffmpeg reported the end of its output.
func (p *progress) snapshot() (outTime time.Duration, first, last time.Time, ended bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outTime, p.first, p.last, p.ended
}

// proc is a client process (publisher or player) owned by one test.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	prog   *progress
	done   chan struct{}
	err    error // valid after done
	ended  time.Time
}

// outputReader consumes a client's stdout (ffmpeg progress, gst-launch messages).
type outputReader interface {
	read(io.Reader)
}

// startProc starts name args…; out, if not nil, reads its stdout (a *progress makes
// mediaTime work). The process is killed at cleanup; its stderr is logged if the test
// failed.
func startProc(t *testing.T, out outputReader, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(name, args...), stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	p.prog, _ = out.(*progress)
	var stdout io.ReadCloser
	if out != nil {
		var err error
		if stdout, err = p.cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		if stdout != nil {
			out.read(stdout)
			_, _ = io.Copy(io.Discard, stdout)
		}
		p.err = p.cmd.Wait()
		p.ended = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			if s := strings.TrimSpace(p.stderr.String()); s != "" {
				t.Logf("%s stderr (last 2000 bytes): %s", name, tail(s, 2000))
			}
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill ends the process (SIGKILL: a dropped publisher, or a player that ignores
// SIGTERM) and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to end by itself.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// mediaTime is the media written so far by an ffmpeg started with progress.
func (p *proc) mediaTime() time.Duration {
	d, _, _, _ := p.prog.snapshot()
	return d
}

// ffmpegPublisher publishes like OBS (REAL-CLIENTS.md) with a 1 s GOP and reports its
// progress, so tests can drop it after N seconds of media instead of sleeping.
func ffmpegPublisher(t *testing.T, url string) *proc {
	t.Helper()
	return startProc(t, &progress{}, "ffmpeg", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
		"-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000",
		"-progress", "pipe:1", "-stats_period", "0.25", "-f", "flv", url)
}

// gstPublisher publishes with GStreamer's rtmp2sink (app `live`, stream name
// `KEY?mode=…`), x264 with a 2 s keyframe interval and AAC (voaacenc).
func gstPublisher(t *testing.T, url string) *proc {
	t.Helper()
	pipeline := fmt.Sprintf(`videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 `+
		`! x264enc tune=zerolatency speed-preset=veryfast key-int-max=60 ! h264parse ! flvmux streamable=true name=m `+
		`! rtmp2sink location=%s `+
		`audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 `+
		`! voaacenc bitrate=128000 ! aacparse ! m.`, url)
	// gst-launch joins its arguments into one description; a URL has no spaces.
	return startProc(t, nil, "gst-launch-1.0", append([]string{"-q"}, strings.Fields(pipeline)...)...)
}

// ffprobeDuration returns the duration ffprobe reads from url (a VOD playlist).
func ffprobeDuration(t *testing.T, url string) (float64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffprobe: %v: %s", err, tail(string(out), 1000))
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, fmt.Errorf("ffprobe duration %q: %v", out, err)
	}
	return d, nil
}

// ffprobeStreams checks that url carries H.264 640x360 and AAC.
func ffprobeStreams(t *testing.T, name, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries",
		"stream=codec_name,width,height", "-of", "compact", url).CombinedOutput()
	if err != nil {
		t.Errorf("ffprobe %s: %v\n%s", name, err, out)
		return
	}
	s := string(out)
	if !strings.Contains(s, "codec_name=h264") || !strings.Contains(s, "codec_name=aac") || !strings.Contains(s, "width=640") {
		t.Errorf("ffprobe %s: want h264 640x360 + aac, got\n%s", name, s)
	}
	t.Logf("ffprobe %s: %s", name, strings.ReplaceAll(strings.TrimSpace(s), "\n", " | "))
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it)", tool)
		}
	}
}
