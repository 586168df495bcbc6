package natsstore

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures the NATS server kam runs in its own process.
type EmbeddedConfig struct {
	// Listen is host:port of the client port; port 0 or -1 picks a free one.
	Listen string
	// StoreDir holds JetStream's files.
	StoreDir string
	// ConfigFile, when set, is a nats-server configuration file read first;
	// Listen and StoreDir still apply unless empty.
	ConfigFile string
	// SyncAlways makes the file store fsync every message before it is
	// acknowledged (about 20x slower; see README "Durability").
	SyncAlways bool
}

// RunEmbedded starts a NATS server with JetStream and waits until it takes
// connections. Its logs go to log at the matching levels.
func RunEmbedded(cfg EmbeddedConfig, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		o, err := server.ProcessConfigFile(cfg.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("nats config %s: %w", cfg.ConfigFile, err)
		}
		opts = o
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	opts.JetStream = true
	if cfg.StoreDir != "" {
		abs, err := filepath.Abs(cfg.StoreDir)
		if err != nil {
			return nil, err
		}
		opts.StoreDir = abs
	}
	if opts.ServerName == "" {
		opts.ServerName = "kam-embedded"
	}
	opts.NoSigs = true
	opts.SyncAlways = opts.SyncAlways || cfg.SyncAlways
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if log != nil {
		s.SetLoggerV2(slogAdapter{log}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server not ready after 30s")
	}
	return s, nil
}

// slogAdapter passes the server's log lines to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Debugf(f string, v ...any) {
	a.l.Log(context.Background(), slog.LevelDebug-4, fmt.Sprintf(f, v...))
}
func (a slogAdapter) Tracef(f string, v ...any) {
	a.l.Log(context.Background(), slog.LevelDebug-8, fmt.Sprintf(f, v...))
}
