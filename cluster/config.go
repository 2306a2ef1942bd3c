package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults of EtcdConfig.
const (
	DefaultEtcdPrefix  = "/roomcast"
	DefaultDialTimeout = 5 * time.Second
)

// EtcdConfig is how a node reaches etcd: the --etcd-* flags. The TLS and auth
// fields are named after etcdctl's flags (--cert, --key, --cacert, --user,
// --password) and mean the same.
type EtcdConfig struct {
	// Endpoints is a comma-separated list of host:port or http(s)://host:port
	// (--etcd-endpoints). Give every member: the client fails over among them.
	Endpoints string
	// Prefix is the root of Roomcast's keys (--etcd-prefix, default /roomcast).
	Prefix string
	// DialTimeout bounds the first connection (--dial-timeout, default 5 s).
	DialTimeout time.Duration
	// Cert and Key are the client certificate and its key (PEM files), CACert
	// the CA bundle that verifies the servers (--cert, --key, --cacert). Any of
	// them, or an https:// endpoint, turns TLS on.
	Cert, Key, CACert string
	// User is "name" or "name:password" (--user); Password, when set, is the
	// password (--password).
	User, Password string
}

// EndpointList returns the endpoints, trimmed, without empty entries.
func (c EtcdConfig) EndpointList() ([]string, error) {
	var eps []string
	for _, ep := range strings.Split(c.Endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("cluster: no etcd endpoints")
	}
	return eps, nil
}

// KeyPrefix returns Prefix without its trailing slash, DefaultEtcdPrefix when
// empty.
func (c EtcdConfig) KeyPrefix() string {
	p := strings.TrimRight(c.Prefix, "/")
	if c.Prefix == "" {
		return DefaultEtcdPrefix
	}
	return p
}

// ClientConfig builds the etcd client's configuration; the client logs its
// warnings and errors to log (nil: slog.Default).
func (c EtcdConfig) ClientConfig(log *slog.Logger) (clientv3.Config, error) {
	eps, err := c.EndpointList()
	if err != nil {
		return clientv3.Config{}, err
	}
	if log == nil {
		log = slog.Default()
	}
	cfg := clientv3.Config{
		Endpoints:   eps,
		DialTimeout: c.DialTimeout,
		Logger:      zap.New(slogCore{log: log.With("component", "etcd-client")}),
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if c.User != "" {
		name, pass, hasPass := strings.Cut(c.User, ":")
		if c.Password != "" {
			pass, hasPass = c.Password, true
		}
		if !hasPass {
			return clientv3.Config{}, errors.New("cluster: --user without a password (name:password or --password)")
		}
		cfg.Username, cfg.Password = name, pass
	} else if c.Password != "" {
		return clientv3.Config{}, errors.New("cluster: --password without --user")
	}
	secure := false
	for _, ep := range eps {
		secure = secure || strings.HasPrefix(ep, "https://")
	}
	if secure || c.Cert != "" || c.Key != "" || c.CACert != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return clientv3.Config{}, err
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

// tlsConfig loads the certificate files.
func (c EtcdConfig) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if (c.Cert == "") != (c.Key == "") {
		return nil, errors.New("cluster: --cert and --key go together")
	}
	if c.Cert != "" {
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("cluster: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("cluster: CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster: CA bundle %s: no PEM certificate", c.CACert)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// slogCore passes the etcd client's zap records at warn level and above to
// slog.
type slogCore struct {
	log    *slog.Logger
	fields []zapcore.Field
}

func (s slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (s slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{log: s.log, fields: append(append([]zapcore.Field(nil), s.fields...), fields...)}
}

func (s slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if s.Enabled(e.Level) {
		return ce.AddCore(e, s)
	}
	return ce
}

func (s slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range s.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	s.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (s slogCore) Sync() error { return nil }
