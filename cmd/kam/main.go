// Command kam runs and operates kam, the event-sourced key-account service.
// Each subcommand lives in its own file; this one only dispatches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	// The main goroutine keeps the process's first thread, so that no
	// other goroutine runs there: the projector lowers the priority of the
	// threads it runs on (serve --projector-nice), and the first thread's
	// is the one ps shows for the whole process.
	runtime.LockOSThread()
	// SIGHUP too: a closed terminal stops kam as cleanly as SIGTERM (it
	// killed it before, without a graceful stop); but not under nohup,
	// which ignores it so that kam goes on.
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main is the kam program, started by main and by the end-to-end tests.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// Ready, when set, is called by serve once it listens, with its addresses.
	Ready func(Addrs)
}

// Addrs are where a running kam can be reached.
type Addrs struct {
	HTTP string // host:port
	NATS string // nats:// URL
}

type command struct {
	name, usage string
	run         func(m *Main, ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// exitError carries an exit code other than 1 (kam diff's "differ", say).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Run runs one subcommand and returns the process exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	m.defaults()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(m.Stderr, "kam: unknown command %q\n", args[0])
		m.usage()
		return 2
	}
	err := c.run(m, ctx, args[1:])
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(m.Stderr, ee.msg)
		}
		return ee.code
	default:
		fmt.Fprintf(m.Stderr, "kam %s: %v\n", c.name, err)
		return 1
	}
}

func (m *Main) defaults() {
	if m.Stdin == nil {
		m.Stdin = strings.NewReader("")
	}
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if m.Stderr == nil {
		m.Stderr = io.Discard
	}
	if m.Getenv == nil {
		m.Getenv = func(string) string { return "" }
	}
	if m.Now == nil {
		m.Now = time.Now
	}
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "usage: kam <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(m.Stderr, "  %-10s %s\n", n, commands[n].usage)
	}
	fmt.Fprintln(m.Stderr, "\nRun 'kam <command> -h' for a command's flags. Every flag can also be set\nby an environment variable: --data-dir is KAM_DATA_DIR, and so on.")
}

// flagSet makes a FlagSet that prints to m.Stderr.
func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("kam "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

// parse parses args, then sets every flag not given on the command line from
// its environment variable KAM_<NAME> (dashes become underscores).
func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	// Flags may follow the positional arguments too, as the usage lines
	// write them (kam audit ACME --url URL): parse, set each leading
	// positional argument aside, parse what follows it; "--" ends the flags.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := EnvName(f.Name)
		if v := m.Getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// EnvName is the environment variable of a flag: KAM_ and the name in capitals.
func EnvName(flagName string) string {
	return "KAM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// logger builds the slog logger of a long-running command.
func (m *Main) logger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(m.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(m.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
