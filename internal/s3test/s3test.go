// Package s3test runs a real S3-compatible server for tests: SeaweedFS's weed
// (Apache-2.0) as a separate process on 127.0.0.1, not a mock, so a test can
// kill it and start it again on the same data.
//
//	srv := s3test.Start(t)            // answering when it returns; t.Cleanup stops it
//	cfg, _ := objstore.ParseURL(srv.URL("recordings"))
//	cmd.Env = append(os.Environ(), srv.Env()...) // AWS_* credentials for a child process
//	srv.Kill()                        // SIGKILL, like a crash
//	srv.Restart()                     // same dir and ports, data kept
//
// The weed binary is found by Binary: $ROOMCAST_WEED, else the Makefile's build
// cache ($HOME/.cache/roomcast/weed-<WeedVersion>, `make weed` builds it), else
// weed in PATH. A missing binary fails the test: it is never skipped.
//
// weed runs `weed server` with its master, volume server, filer and S3 gateway
// in one process, every port (HTTP and gRPC) a free loopback port chosen at
// start and passed explicitly, so parallel servers never collide. S3 requests
// are authenticated: the server knows one identity (AccessKey, SecretKey) and
// refuses others. Its log is weed.log in the server's directory; a failed test
// prints its tail.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/roomcast/roomcast/internal/testproc"
)

// WeedVersion is the SeaweedFS commit that tools/seaweedfs/go.mod pins and the
// Makefile's WEED_VERSION names (a test checks all three agree).
const WeedVersion = "7506e5f91cd6"

// Region is the region the server's URL names.
const Region = "us-east-1"

// StartTimeout bounds how long starting or restarting waits for the server to
// answer.
const StartTimeout = 60 * time.Second

// StopTimeout is how long Stop waits after SIGTERM before it kills.
const StopTimeout = 20 * time.Second

// logTailLines is how much of weed.log a failed test prints.
const logTailLines = 60

// ErrNoWeed is returned (wrapped) by StartServer when no weed binary is found.
var ErrNoWeed = errors.New("SeaweedFS's weed binary not found: `make weed` builds it into " +
	"$HOME/.cache/roomcast/weed-" + WeedVersion + " (or set ROOMCAST_WEED to a weed binary)")

// Binary returns the path of the weed binary: $ROOMCAST_WEED, else
// $HOME/.cache/roomcast/weed-<WeedVersion>, else weed in PATH.
func Binary() (string, error) {
	if p := os.Getenv("ROOMCAST_WEED"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ROOMCAST_WEED=%s: %w", p, err)
		}
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "roomcast", "weed-"+WeedVersion)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	return "", ErrNoWeed
}

// Server is a running weed server. Its methods may be called from several
// goroutines.
type Server struct {
	// Endpoint is the S3 gateway's URL, http://127.0.0.1:port.
	Endpoint string
	// AccessKey and SecretKey are the one identity the server accepts.
	AccessKey, SecretKey string

	dir     string // data (dir/data), config and log
	logPath string
	bin     string
	ports   ports

	mu   sync.Mutex
	cmd  *exec.Cmd     // nil while not running
	done chan struct{} // closed when cmd has exited
}

// ports are every listening port of weed server.
type ports struct {
	master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc int
}

func (p ports) all() []int {
	return []int{p.master, p.masterGrpc, p.volume, p.volumeGrpc, p.filer, p.filerGrpc, p.s3, p.s3Grpc}
}

// Start starts a weed server in t.TempDir() and waits until it answers S3
// requests (a bucket can be created and written into: about 10 s). t.Cleanup kills it, after printing the
// tail of its log if t failed. A missing weed binary fails t.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.LogTail())
		}
		s.Close()
	})
	return s
}

// StartServer is Start without a testing.TB (for a TestMain): it starts a weed
// server with its data, config and log in dir and waits until it answers.
// Close stops it.
func StartServer(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{
		dir:       dir,
		logPath:   filepath.Join(dir, "weed.log"),
		bin:       bin,
		AccessKey: "roomcast-" + randomHex(6),
		SecretKey: randomHex(20),
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	// Free ports are found by listening and closing: another process may take
	// one before weed binds it. One retry with fresh ports covers that race.
	for attempt := 1; ; attempt++ {
		if s.ports, err = freePorts(); err != nil {
			return nil, err
		}
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.ports.s3)
		if err = s.start(); err == nil {
			return s, nil
		}
		s.Kill()
		if attempt == 2 || !testproc.LogContains(s.logPath, "address already in use") {
			return nil, fmt.Errorf("starting weed: %w\n%s", err, s.LogTail())
		}
	}
}

// s3Config is weed's -s3.config: one identity with every action.
type s3Config struct {
	Identities []identity `json:"identities"`
}

type identity struct {
	Name        string       `json:"name"`
	Credentials []credential `json:"credentials"`
	Actions     []string     `json:"actions"`
}

type credential struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

func (s *Server) configPath() string { return filepath.Join(s.dir, "s3.json") }

func (s *Server) writeConfig() error {
	b, err := json.MarshalIndent(s3Config{Identities: []identity{{
		Name:        "roomcast",
		Credentials: []credential{{AccessKey: s.AccessKey, SecretKey: s.SecretKey}},
		Actions:     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "data"), 0o755); err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	if err := os.WriteFile(s.configPath(), b, 0o600); err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	return nil
}

// args are weed's command line. Every port is explicit (a gRPC port defaults to
// its HTTP port + 10000, which could be anything); the Iceberg and Lance catalog
// ports are off, and so is telemetry (no network beyond loopback).
func (s *Server) args() []string {
	p := s.ports
	return []string{
		"-logtostderr", // glog writes files into /tmp otherwise
		"server",
		"-dir=" + filepath.Join(s.dir, "data"),
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(p.master),
		"-master.port.grpc=" + strconv.Itoa(p.masterGrpc),
		"-master.telemetry=false",
		// Without its raft state a restarted master is leader at once instead
		// of after a 13 s election; volumes and filer metadata are on disk
		// and reported again, so no object is lost.
		"-master.resumeState=false",
		"-master.volumeSizeLimitMB=64",
		"-volume.port=" + strconv.Itoa(p.volume),
		"-volume.port.grpc=" + strconv.Itoa(p.volumeGrpc),
		"-volume.max=0", // as many volumes as the disk holds (each bucket gets its own)
		"-volume.preStopSeconds=0",
		"-filer.port=" + strconv.Itoa(p.filer),
		"-filer.port.grpc=" + strconv.Itoa(p.filerGrpc),
		"-s3",
		"-s3.port=" + strconv.Itoa(p.s3),
		"-s3.port.grpc=" + strconv.Itoa(p.s3Grpc),
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-s3.config=" + s.configPath(),
	}
}

// start spawns weed and waits until it answers.
func (s *Server) start() error {
	if err := s.spawn(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	return s.waitReady(ctx)
}

func (s *Server) spawn() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("weed is running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("weed log: %w", err)
	}
	fmt.Fprintf(logf, "--- s3test: starting %s %v at %s\n", s.bin, s.args(), time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir                       // weed reads master.toml and friends from its working directory
	cmd.Env = testproc.EnvWithout("AWS_") // they would change weed's own S3 client settings
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	go func() { // owned by the Server: ends when weed exits (Stop, Kill, Close)
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// readyBucket is the bucket the readiness probe writes into.
const readyBucket = "s3test-ready"

// waitReady polls until a bucket can be created and an object written into it
// (probe). It fails early when weed exits.
func (s *Server) waitReady(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	mc, tr, err := s.client(s.AccessKey, s.SecretKey)
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	var last error
	for {
		select {
		case <-done:
			return errors.New("weed exited while starting")
		default:
		}
		err := probe(ctx, mc)
		if err == nil {
			s.logf("s3test: answering")
			return nil
		}
		if last == nil || err.Error() != last.Error() {
			s.logf("s3test: not answering yet: %v", err)
		}
		last = err
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("weed not answering S3 after %s: %w", StartTimeout, last)
		case <-done:
			t.Stop()
			return errors.New("weed exited while starting")
		case <-t.C:
		}
	}
}

// probe creates readyBucket (unless it exists), then writes and removes an
// object in it. The bucket stays: after a restart, writing into it needs no new
// volume, which weed's master refuses to grow for a while after it starts on
// existing data (its warm-up), so the probe answers when the server can serve
// the buckets it had.
func probe(ctx context.Context, mc *minio.Client) error {
	// A write blocks inside weed while it settles (the filer joining the master,
	// the lock ring forming): the timeout only bounds a hung request.
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := mc.MakeBucket(pctx, readyBucket, minio.MakeBucketOptions{Region: Region})
	if err != nil {
		if code := minio.ToErrorResponse(err).Code; code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("create bucket: %w", err)
		}
	}
	if _, err := mc.PutObject(pctx, readyBucket, "probe", bytes.NewReader([]byte("ok")), 2, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := mc.RemoveObject(pctx, readyBucket, "probe", minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// client is a minio-go client of the server with the given keys and no
// retries (a probe that fails is tried again by its caller), and its transport.
func (s *Server) client(accessKey, secretKey string) (*minio.Client, *http.Transport, error) {
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		return nil, nil, fmt.Errorf("s3test: transport: %w", err)
	}
	mc, err := minio.New("127.0.0.1:"+strconv.Itoa(s.ports.s3), &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
		Transport:    tr,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("s3test: client: %w", err)
	}
	return mc, tr, nil
}

// URL returns the server's --object-store URL for bucket:
// s3://bucket?endpoint=http://127.0.0.1:port&region=us-east-1.
func (s *Server) URL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + s.Endpoint + "&region=" + Region
}

// Env returns the AWS_* environment variables with the server's credentials,
// for a child process (or os.Setenv in a test).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + Region,
	}
}

// SetEnv sets the AWS_* variables of Env in the test's own environment (for an
// objstore client made in the test; restored at its end).
func (s *Server) SetEnv(t testing.TB) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Dir returns the directory of the server's data, config and log.
func (s *Server) Dir() string { return s.dir }

// LogPath returns the path of weed's log.
func (s *Server) LogPath() string { return s.logPath }

// Running reports whether the weed process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop stops weed gracefully (SIGTERM to its process group), killing it after
// StopTimeout, and waits for its exit: about 15 s, weed's own HTTP shutdown
// deadline. A server that is not running is left alone.
func (s *Server) Stop() { s.stop(syscall.SIGTERM, StopTimeout) }

// Kill sends SIGKILL to weed's process group (a crash) and waits for its exit.
func (s *Server) Kill() { s.stop(syscall.SIGKILL, 0) }

func (s *Server) stop(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	signalGroup(cmd, sig)
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-done:
		case <-t.C:
			signalGroup(cmd, syscall.SIGKILL)
		}
		t.Stop()
	}
	<-done
	// weed leaves its Unix sockets (named after the ports) in /tmp.
	for _, p := range s.ports.all() {
		for _, name := range []string{"master", "volume", "filer", "s3"} {
			_ = os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, p))
			_ = os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-%d.sock", name, p))
		}
	}
	s.mu.Lock()
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
}

// signalGroup signals weed's process group (weed is its leader), or weed alone
// where there are no groups.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if err := killGroup(cmd.Process.Pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// logf appends a line of the harness to weed's log.
func (s *Server) logf(format string, args ...any) {
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "--- %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000000")}, args...)...)
}

// Restart starts weed again (after Stop or Kill) on the same data dir and ports,
// and waits until it answers: the objects written before are there. It takes
// about 17 s: weed's master refuses writes for 15 s after it starts on existing
// volumes (its warm-up, three 5 s heartbeats).
func (s *Server) Restart() error {
	if err := s.start(); err != nil {
		s.Kill()
		return fmt.Errorf("s3test: restart weed: %w", err)
	}
	return nil
}

// Close kills weed and waits for it. It may be called more than once.
func (s *Server) Close() { s.Kill() }

// LogTail returns the last lines of weed's log, for a failure report.
func (s *Server) LogTail() string {
	return fmt.Sprintf("=== weed log tail, %s:\n%s\n", s.logPath, testproc.LogTail(s.logPath, logTailLines))
}

// freePorts returns weed's ports: distinct free loopback ports (testproc).
func freePorts() (ports, error) {
	ps, err := testproc.FreePorts(8)
	if err != nil {
		return ports{}, fmt.Errorf("s3test: %w", err)
	}
	return ports{ps[0], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7]}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = io.ReadFull(rand.Reader, b)
	return hex.EncodeToString(b)
}
