package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEtcdConfig(t *testing.T) {
	cfg, err := EtcdConfig{Endpoints: " 127.0.0.1:2379, ,127.0.0.1:22379,", User: "roomcast:s3cret"}.ClientConfig(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:2379", "127.0.0.1:22379"}; !reflect.DeepEqual(cfg.Endpoints, want) {
		t.Fatalf("Endpoints %q, want %q", cfg.Endpoints, want)
	}
	if cfg.Username != "roomcast" || cfg.Password != "s3cret" || cfg.TLS != nil || cfg.DialTimeout != DefaultDialTimeout {
		t.Fatalf("config %+v", cfg)
	}

	cfg, err = EtcdConfig{Endpoints: "127.0.0.1:2379", User: "roomcast:ignored", Password: "p:w"}.ClientConfig(quiet)
	if err != nil || cfg.Username != "roomcast" || cfg.Password != "p:w" {
		t.Fatalf("--password wins: %+v, %v", cfg, err)
	}
	cfg, err = EtcdConfig{Endpoints: "https://127.0.0.1:2379"}.ClientConfig(quiet)
	if err != nil || cfg.TLS == nil {
		t.Fatalf("https endpoint without files: TLS %v, %v", cfg.TLS, err)
	}

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  EtcdConfig
		want string
	}{
		{EtcdConfig{Endpoints: " , "}, "no etcd endpoints"},
		{EtcdConfig{Endpoints: "127.0.0.1:2379", User: "roomcast"}, "without a password"},
		{EtcdConfig{Endpoints: "127.0.0.1:2379", Password: "x"}, "without --user"},
		{EtcdConfig{Endpoints: "127.0.0.1:2379", Cert: "c.pem"}, "--cert and --key"},
		{EtcdConfig{Endpoints: "127.0.0.1:2379", CACert: filepath.Join(dir, "missing.pem")}, "CA bundle"},
		{EtcdConfig{Endpoints: "127.0.0.1:2379", CACert: notPEM}, "no PEM certificate"},
	} {
		if _, err := tc.cfg.ClientConfig(quiet); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}

	for in, want := range map[string]string{"": "/roomcast", "/rc/": "/rc", "/a": "/a"} {
		if got := (EtcdConfig{Prefix: in}).KeyPrefix(); got != want {
			t.Errorf("KeyPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
