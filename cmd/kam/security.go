package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"

	"kam/handlers"
)

// securityFlags are serve's flags about who may call the API.
type securityFlags struct {
	insecure bool
}

func (s *securityFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&s.insecure, "insecure", false, "allow a non-loopback --http address without API tokens")
}

// guard returns the API's guard. Without tokens kam serves on loopback only:
// a non-loopback address is refused unless --insecure says otherwise.
func (s *securityFlags) guard(httpAddr string, log *slog.Logger) (handlers.Guard, error) {
	if !isLoopback(httpAddr) {
		if !s.insecure {
			return nil, fmt.Errorf("--http %s is not a loopback address and no API tokens are configured: "+
				"anyone who reaches it could append and read; add --insecure to accept that", httpAddr)
		}
		log.Warn("serving without API tokens on a non-loopback address (--insecure)", "http", httpAddr)
	} else {
		log.Info("no API tokens configured: serving on loopback only", "http", httpAddr)
	}
	return nil, nil
}

// isLoopback reports whether host:port binds only loopback interfaces.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
