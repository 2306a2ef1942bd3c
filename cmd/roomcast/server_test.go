package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testConfig is a server on ephemeral loopback ports with its data in a temp dir.
func testConfig(t *testing.T, dataDir string) Config {
	t.Helper()
	c := defaultConfig()
	c.DataDir = dataDir
	c.HTTPAddr = "127.0.0.1:0"
	c.RTMPAddr = "127.0.0.1:0"
	c.LogLevel = "warn"
	// Admission control measures the process, and the test process runs many
	// servers (in parallel, under the race detector): its CPU and scheduler latency
	// say nothing about one server's. The ingest backlog is per server: kept.
	c.MaxCPU, c.MaxSchedLatency = 0, 0
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func startServer(t *testing.T, c Config) *server {
	t.Helper()
	// the server logs to the test's log (shown for failed tests and with -v)
	s := &server{Config: c, Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	return s
}

type credentials struct {
	AppID     uint64 `json:"appId"`
	APIKey    string `json:"apiKey"`
	APISecret string `json:"apiSecret"`
}

func readCredentials(t *testing.T, dir string) credentials {
	t.Helper()
	path := filepath.Join(dir, "credentials.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials.json mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("credentials.json %q: %v", b, err)
	}
	return c
}

func get(t *testing.T, url, user, pass string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestFirstStartWritesCredentialsAndRestartKeepsThem(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	creds := readCredentials(t, dir)
	if creds.AppID != 1 || creds.APIKey == "" || len(creds.APISecret) < 16 {
		t.Fatalf("credentials %+v", creds)
	}
	base := "http://" + s.HTTPAddr()
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		if code, body := get(t, base+p, "", ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	if code, _ := get(t, base+"/v2/apps/me/video-rooms", creds.APIKey, creds.APISecret); code != 200 {
		t.Fatalf("list rooms with first-start credentials: %d", code)
	}
	if code, _ := get(t, base+"/v2/apps/me/video-rooms", creds.APIKey, "wrong"); code != 401 {
		t.Fatalf("wrong secret: %d, want 401", code)
	}
	s.Close()

	// A restart creates no second app and keeps the credentials valid.
	s = startServer(t, testConfig(t, dir))
	defer s.Close()
	if again := readCredentials(t, dir); again != creds {
		t.Fatalf("credentials changed across restart: %+v → %+v", creds, again)
	}
	if code, _ := get(t, "http://"+s.HTTPAddr()+"/v2/apps/me/video-rooms", creds.APIKey, creds.APISecret); code != 200 {
		t.Fatalf("credentials after restart: %d", code)
	}
}

func TestFirstStartWithEnvCredentials(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, dir)
	c.AppKey, c.AppSecret = "env-key", "env-secret-123456"
	s := startServer(t, c)
	defer s.Close()
	if creds := readCredentials(t, dir); creds.APIKey != "env-key" || creds.APISecret != "env-secret-123456" {
		t.Fatalf("env credentials not used: %+v", creds)
	}
	if code, _ := get(t, "http://"+s.HTTPAddr()+"/v2/apps/me/video-rooms", "env-key", "env-secret-123456"); code != 200 {
		t.Fatalf("env credentials refused: %d", code)
	}
}

func TestAppCreateCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := realMain([]string{"app", "create", "--data", dir, "--name", "Second"}, env(nil), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var creds credentials
	if err := json.Unmarshal(out.Bytes(), &creds); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if creds.AppID == 0 || creds.APIKey == "" || creds.APISecret == "" {
		t.Fatalf("credentials %+v", creds)
	}
	// The new app works once the server runs on the same data.
	s := startServer(t, testConfig(t, dir))
	defer s.Close()
	if code, body := get(t, "http://"+s.HTTPAddr()+"/v2/apps/me/video-rooms", creds.APIKey, creds.APISecret); code != 200 {
		t.Fatalf("app from `app create` refused: %d %s", code, body)
	}

	errOut.Reset()
	if code := realMain([]string{"app", "create", "--data", dir}, env(nil), &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "--name") {
		t.Fatalf("missing --name: exit %d, %q", code, errOut.String())
	}
	// While the server holds the store, app create fails with a clear message.
	errOut.Reset()
	if code := realMain([]string{"app", "create", "--data", dir, "--name", "x"}, env(nil), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "server running") {
		t.Fatalf("locked store: exit %d, %q", code, errOut.String())
	}
}

func TestBadConfigExitsWithUsageError(t *testing.T) {
	var errOut bytes.Buffer
	if code := realMain([]string{"--log-format", "xml"}, env(nil), io.Discard, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "--log-format") {
		t.Fatalf("stderr %q does not name the flag", errOut.String())
	}
}
