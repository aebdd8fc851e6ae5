// Package demo holds what `gateway demo` shows a newcomer besides the
// gateway itself: small named backends to balance over, the demo config
// written to a file the user can edit while the gateway watches it, and
// the hints that say what to try.
package demo

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The addresses the demo uses unless its flags say otherwise, as the demo
// config (examples/demo.yaml) writes them.
const (
	Listen = "127.0.0.1:8080"
	Admin  = "127.0.0.1:9901"
)

// Backends returns the addresses of the demo's three backends, as the demo
// config writes them.
func Backends() []string {
	return []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
}

// File is where the demo writes its config, in the working directory,
// unless a file of that name is there already.
const File = "gateway-demo.yaml"

// Config returns template, the demo config, with the addresses the demo
// serves on in place of [Listen], [Admin] and [Backends].
func Config(template []byte, listen, admin string, backends []string) []byte {
	text := string(template)
	text = strings.Replace(text, `listen: "`+Listen+`"`, `listen: "`+listen+`"`, 1)
	text = strings.Replace(text, `admin: "`+Admin+`"`, `admin: "`+admin+`"`, 1)
	for i, b := range Backends() {
		if i < len(backends) {
			text = strings.Replace(text, "- http://"+b+"\n", "- http://"+backends[i]+"\n", 1)
		}
	}
	return []byte(text)
}

// WriteConfig writes data to ./[File] when no such file exists, else to a
// temporary directory, and returns its path and a function that removes
// what it wrote.
func WriteConfig(data []byte) (path string, remove func(), err error) {
	if f, err := os.OpenFile(File, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		remove := func() { os.Remove(File); os.Remove(File + ".bak") }
		if werr != nil {
			remove()
			return "", nil, werr
		}
		return File, remove, nil
	}
	dir, err := os.MkdirTemp("", "gateway-demo")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, File)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// PrintHints tells the user what to try: traffic to the gateway at addr,
// an edit of the config file at path that removes the backend last, and
// where to see the reload, on the admin listener at admin.
func PrintHints(w io.Writer, addr, admin, path, last string) {
	fmt.Fprintf(w, "The gateway listens on http://%s and sends each request to the next of three backends:\n\n", addr)
	fmt.Fprintf(w, "  for i in 1 2 3 4 5 6; do curl -s http://%s/; done\n\n", addr)
	fmt.Fprintf(w, "Its config is %s, reloaded on every save. Remove a backend while it runs:\n\n", path)
	fmt.Fprintf(w, "  sed -i.bak '/%s/d' %s\n\n", last, path)
	fmt.Fprintln(w, "then see the new generation, the two backends it kept with their counters, and the reload:")
	fmt.Fprintf(w, "\n  gateway status --admin %s      (from a checkout: go run . status --admin %[1]s)\n", admin)
	fmt.Fprintf(w, "  curl -s http://%s/reloads\n\n", admin)
	fmt.Fprintf(w, "or open the dashboard, which shows all of it live: http://%s/\n\n", admin)
	fmt.Fprintf(w, "The file is removed when the demo stops. Stop: Ctrl-C\n")
}

// StartBackends serves a small named backend on each address: it answers
// every path with its name and /health with 200. It returns the addresses
// bound and a function that stops the backends.
func StartBackends(addrs []string) (bound []string, stop func(), err error) {
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
