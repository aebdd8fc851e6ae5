// Command gateway is an HTTP load balancer and reverse proxy driven by a
// declarative YAML or JSON config that it watches: save the file and the
// gateway takes the new config within a quarter second, without dropping a
// request and without forgetting what it knew about the backends that did
// not change.
//
//	gateway run --config gateway.yaml
//	gateway validate gateway.yaml
//	gateway demo
//	gateway status --admin 127.0.0.1:9901
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gatewayhq/gateway/gateway"
	"github.com/gatewayhq/gateway/gateway/adminclient"
	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/reload"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

//go:embed examples/demo.yaml
var demoConfig []byte

func main() {
	setMemoryLimit()
	app := &cli.App{
		Name:    "gateway",
		Usage:   "an HTTP load balancer that reloads its config on change",
		Version: version,
		Commands: []*cli.Command{
			runCommand(),
			validateCommand(),
			demoCommand(),
			statusCommand(),
		},
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
	if err := app.Run(os.Args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// setMemoryLimit sets the Go memory limit to 90% of the container's memory
// limit when GOMEMLIMIT is not set, so the garbage collector works harder
// before the kernel's OOM killer would. GOMAXPROCS already follows the
// container's CPU quota (Go 1.25 and later).
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if limit, ok := gateway.MemoryLimitFromCgroup(); ok {
		debug.SetMemoryLimit(limit / 10 * 9)
	}
}

// logFlags are the logging flags of the commands that serve.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Usage: "text or json (default: text on a terminal, json otherwise)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
	}
}

// newLogger builds the process's logger from the logging flags.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--log-level: %v", err), 2)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := c.String("log-format")
	if format == "" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, cli.Exit(fmt.Sprintf("--log-format: want text or json, got %q", format), 2)
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "serve with a config file, reloading it when it changes",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"GATEWAY_CONFIG"}, Value: "gateway.yaml", Usage: "config `FILE` (YAML or JSON)"},
			&cli.BoolFlag{Name: "watch", Value: true, Usage: "reload when the config file changes (--watch=false turns it off; SIGHUP always reloads)"},
		}, logFlags()...),
		Action: func(c *cli.Context) error {
			logger, err := newLogger(c)
			if err != nil {
				return err
			}
			return serve(c.Context, c.String("config"), c.Bool("watch"), logger, nil)
		},
	}
}

// serve runs a gateway on the config file at path until SIGTERM or SIGINT,
// then drains; a second SIGTERM or SIGINT exits at once with status 1, and
// SIGHUP reloads. ready, when not nil, is called once the gateway serves.
func serve(ctx context.Context, path string, watch bool, logger *slog.Logger, ready func(*gateway.Gateway)) error {
	// Take the signals before anything serves, so that one arriving during
	// start-up drains like any other instead of killing the process. HUP
	// has a channel of its own with room for one: a flood of them is one
	// pending reload and never crowds out a TERM.
	reloads, stops := make(chan os.Signal, 1), make(chan os.Signal, 2)
	signal.Notify(reloads, syscall.SIGHUP)
	signal.Notify(stops, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(reloads)
	defer signal.Stop(stops)

	err := gateway.Run(ctx, gateway.RunOptions{
		Config: path,
		Watch:  watch,
		Logger: logger,
		Reload: reloads,
		Stop:   stops,
		NewWatcher: func(wc gateway.WatcherConfig) gateway.Watcher {
			return reload.New(func(r reload.Read) {
				wc.OnRead(gateway.FileRead{Path: r.Path, Data: r.Data, Err: r.Err, Triggered: r.Triggered})
			}, reload.Options{TriggerOnly: !wc.Events, OnError: wc.OnError, Logger: logger})
		},
		Ready: ready,
	})
	var ce *config.ConfigError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gateway.ErrInterrupted):
		return cli.Exit("", 1)
	case errors.As(err, &ce):
		return cli.Exit(err.Error(), 1)
	}
	return cli.Exit(fmt.Sprintf("gateway: %v", err), 1)
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check config files the way run loads them",
		ArgsUsage: "FILE...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
			&cli.BoolFlag{Name: "resolve", Usage: "also look up the names of resolved servers, as run does; a name without an address is a problem"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("gateway validate: name at least one config FILE", 2)
			}
			format := c.String("format")
			if format != "text" && format != "json" {
				return cli.Exit(fmt.Sprintf("--format: want text or json, got %q", format), 2)
			}
			reports := make([]validationReport, 0, c.NArg())
			failed := false
			for _, path := range c.Args().Slice() {
				r := validateFile(c.Context, path, c.Bool("resolve"))
				failed = failed || !r.OK
				reports = append(reports, r)
			}
			if format == "json" {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			} else {
				for _, r := range reports {
					r.writeText(c.App.Writer)
				}
			}
			if failed {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// validationReport is what validate says of one file. Warnings (an
// expired certificate) do not make it fail.
type validationReport struct {
	File     string           `json:"file"`
	OK       bool             `json:"ok"`
	Pools    int              `json:"pools"`
	Servers  int              `json:"servers"`
	Problems []config.Problem `json:"problems"`
	Warnings []config.Problem `json:"warnings"`
	// Resolved is what the names of resolved servers resolved to, with
	// --resolve.
	Resolved []gateway.ResolvedStatus `json:"resolved,omitempty"`
}

// validateFile loads path with the code path run uses, reads and checks
// every file the config names, as run does, and, with resolve, looks up
// the names of its resolved servers as run does.
func validateFile(ctx context.Context, path string, resolve bool) validationReport {
	r := validationReport{File: path, Problems: []config.Problem{}, Warnings: []config.Problem{}}
	cfg, err := config.Load(path)
	if err != nil {
		var ce *config.ConfigError
		if errors.As(err, &ce) {
			r.Problems = ce.Problems
		} else {
			r.Problems = []config.Problem{{File: path, Message: err.Error()}}
		}
		return r
	}
	if problems, warnings := gateway.CheckFiles(cfg); len(problems) > 0 {
		r.Problems = problems
		return r
	} else if len(warnings) > 0 {
		r.Warnings = warnings
	}
	r.Pools = len(cfg.Pools)
	for _, p := range cfg.Pools {
		r.Servers += len(p.Servers)
	}
	if resolve {
		r.Resolved = gateway.ResolveNames(ctx, cfg)
		for _, n := range r.Resolved {
			if len(n.Addresses) == 0 {
				r.Problems = append(r.Problems, config.Problem{File: path, Message: n.Name + " resolves to no address: " + n.Error})
			}
		}
	}
	r.OK = len(r.Problems) == 0
	return r
}

func (r validationReport) writeText(w io.Writer) {
	for _, p := range r.Warnings {
		fmt.Fprintln(w, "warning:", p.Error())
	}
	if r.OK {
		fmt.Fprintf(w, "%s: ok (%d pools, %d servers)\n", r.File, r.Pools, r.Servers)
	}
	for _, n := range r.Resolved {
		if len(n.Addresses) > 0 {
			fmt.Fprintf(w, "%s: %s resolves to %s\n", r.File, n.Name, strings.Trim(fmt.Sprint(n.Addresses), "[]"))
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, p.Error())
	}
}

// The addresses `gateway demo` uses unless its flags say otherwise, as
// examples/demo.yaml writes them.
var (
	demoListen   = "127.0.0.1:8080"
	demoAdmin    = "127.0.0.1:9901"
	demoBackends = []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
)

// demoFile is where `gateway demo` writes its config, in the working
// directory, unless a file of that name is there already.
const demoFile = "gateway-demo.yaml"

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start three demo backends and the gateway in front of them, on a config file it watches",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Value: demoListen, Usage: "the gateway's `ADDR`"},
			&cli.StringFlag{Name: "admin", Value: demoAdmin, Usage: "the admin listener's `ADDR`"},
			&cli.StringSliceFlag{Name: "backend", Value: cli.NewStringSlice(demoBackends...), Usage: "a demo backend's `ADDR`; three of them"},
		}, logFlags()...),
		Action: func(c *cli.Context) error {
			logger, err := newLogger(c)
			if err != nil {
				return err
			}
			if n := len(c.StringSlice("backend")); n != len(demoBackends) {
				return cli.Exit(fmt.Sprintf("gateway demo: --backend: want %d addresses, got %d", len(demoBackends), n), 2)
			}
			backends, stop, err := startDemoBackends(c.StringSlice("backend"))
			if err != nil {
				return cli.Exit(fmt.Sprintf("gateway demo: %v", err), 1)
			}
			defer stop()
			path, remove, err := writeDemoConfig(demoConfigFor(c.String("listen"), c.String("admin"), backends))
			if err != nil {
				return cli.Exit(fmt.Sprintf("gateway demo: %v", err), 1)
			}
			defer remove()
			return serve(c.Context, path, true, logger, func(g *gateway.Gateway) {
				printDemoHints(c.App.Writer, g, path, backends[len(backends)-1])
			})
		},
	}
}

// demoConfigFor returns examples/demo.yaml with the addresses the demo
// serves on.
func demoConfigFor(listen, admin string, backends []string) []byte {
	text := string(demoConfig)
	text = strings.Replace(text, `listen: "`+demoListen+`"`, `listen: "`+listen+`"`, 1)
	text = strings.Replace(text, `admin: "`+demoAdmin+`"`, `admin: "`+admin+`"`, 1)
	for i, b := range backends {
		text = strings.Replace(text, "- http://"+demoBackends[i]+"\n", "- http://"+b+"\n", 1)
	}
	return []byte(text)
}

// writeDemoConfig writes the demo's config to ./gateway-demo.yaml when no
// such file exists, else to a temporary directory, and returns its path
// and a function that removes what it wrote.
func writeDemoConfig(data []byte) (path string, remove func(), err error) {
	if f, err := os.OpenFile(demoFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		remove := func() { os.Remove(demoFile); os.Remove(demoFile + ".bak") }
		if werr != nil {
			remove()
			return "", nil, werr
		}
		return demoFile, remove, nil
	}
	dir, err := os.MkdirTemp("", "gateway-demo")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, demoFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// printDemoHints tells the user what to try: traffic, an edit of the
// config file that removes the last backend, and where to see the reload.
func printDemoHints(w io.Writer, g *gateway.Gateway, path, last string) {
	fmt.Fprintf(w, "The gateway listens on http://%s and sends each request to the next of three backends:\n\n", g.Addr())
	fmt.Fprintf(w, "  for i in 1 2 3 4 5 6; do curl -s http://%s/; done\n\n", g.Addr())
	fmt.Fprintf(w, "Its config is %s, reloaded on every save. Remove a backend while it runs:\n\n", path)
	fmt.Fprintf(w, "  sed -i.bak '/%s/d' %s\n\n", last, path)
	fmt.Fprintln(w, "then see the new generation, the two backends it kept with their counters, and the reload:")
	fmt.Fprintf(w, "\n  gateway status --admin %s      (from a checkout: go run . status --admin %[1]s)\n", g.AdminAddr())
	fmt.Fprintf(w, "  curl -s http://%s/reloads\n\n", g.AdminAddr())
	fmt.Fprintf(w, "or open the dashboard, which shows all of it live: http://%s/\n\n", g.AdminAddr())
	fmt.Fprintf(w, "The file is removed when the demo stops. Stop: Ctrl-C\n")
}

// startDemoBackends serves a small named backend on each address: it
// answers every path with its name and /health with 200. It returns the
// addresses bound.
func startDemoBackends(addrs []string) (bound []string, stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	for i, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, nil, err
		}
		addr := ln.Addr().String()
		bound = append(bound, addr)
		name := fmt.Sprintf("backend-%d", i+1)
		s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			fmt.Fprintf(w, "%s (%s) answered %s %s\n", name, addr, r.Method, r.URL.Path)
		})}
		servers = append(servers, s)
		go s.Serve(ln)
	}
	return bound, stop, nil
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "print the running gateway's pools and backends as a table",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Value: "127.0.0.1:9901", EnvVars: []string{"GATEWAY_ADMIN"}, Usage: "admin listener `ADDR`"},
			&cli.BoolFlag{Name: "json", Usage: "print the raw /status JSON"},
		},
		Action: func(c *cli.Context) error {
			body, err := adminclient.Status(c.Context, c.String("admin"))
			if err != nil {
				return cli.Exit(fmt.Sprintf("gateway status: %v", err), 1)
			}
			if c.Bool("json") {
				_, err := c.App.Writer.Write(body)
				return err
			}
			if err := adminclient.WriteStatusTable(c.App.Writer, bytes.NewReader(body)); err != nil {
				return cli.Exit(fmt.Sprintf("gateway status: %v", err), 1)
			}
			return nil
		},
	}
}
