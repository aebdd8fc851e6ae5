package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer is the admin listener: a net/http server, apart from the
// public listener, that answers /healthz, /readyz, /status, /reloads and
// /metrics. It is bound by the config that names its address and replaced
// when a reload names another.
type adminServer struct {
	addr string // as the config names it
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// adminShutdownTimeout bounds how long a replaced or stopped admin
// listener waits for the requests it is answering.
const adminShutdownTimeout = 2 * time.Second

// AdminAddr returns the address the admin listener is bound to, or "" when
// there is none.
func (g *Gateway) AdminAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.admin == nil {
		return ""
	}
	return g.admin.ln.Addr().String()
}

// adminHandler routes the admin endpoints.
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", g.serveReadyz)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		serveJSON(w, g.Status())
	})
	mux.HandleFunc("GET /reloads", func(w http.ResponseWriter, r *http.Request) {
		records := g.Reloads()
		if records == nil {
			records = []ReloadRecord{}
		}
		serveJSON(w, records)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{g},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// serveReadyz answers 200 while the gateway serves a config and 503 before
// the first config and while it drains at shutdown.
func (g *Gateway) serveReadyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case g.draining.Load():
		writeText(w, http.StatusServiceUnavailable, "not ready: draining")
	case g.gen.Load() == nil:
		writeText(w, http.StatusServiceUnavailable, "not ready: no config loaded")
	default:
		writeText(w, http.StatusOK, "ready")
	}
}

// prepareAdmin returns the admin listener cfg asks for, before cfg is
// published: the running one when the address did not change, nil when
// cfg has none, or a newly bound one, whose bind error rejects the config.
func (g *Gateway) prepareAdmin(cfg *config.Config) (*adminServer, error) {
	if cfg.Admin == "" {
		return nil, nil
	}
	if g.admin != nil && g.admin.addr == cfg.Admin {
		return g.admin, nil
	}
	ln, err := net.Listen("tcp", cfg.Admin)
	if err != nil {
		return nil, err
	}
	return &adminServer{
		addr: cfg.Admin,
		ln:   ln,
		srv: &http.Server{
			Handler:           g.adminHandler(),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
		},
		done: make(chan struct{}),
	}, nil
}

// swapAdmin makes next, from [Gateway.prepareAdmin], the running admin
// listener once its config is published: a new one starts serving and the
// one it replaces stops.
func (g *Gateway) swapAdmin(next *adminServer) {
	old := g.admin
	if next == old {
		return
	}
	g.admin = next
	if next != nil {
		next.start(g)
	}
	if old != nil {
		old.stop()
	}
}

// discardAdmin releases next, from [Gateway.prepareAdmin], when its config
// was rejected after all.
func (g *Gateway) discardAdmin(next *adminServer) {
	if next != nil && next != g.admin {
		next.ln.Close()
	}
}

// closeAdmin stops the admin listener at shutdown.
func (g *Gateway) closeAdmin() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.swapAdmin(nil)
}

// start serves a in a goroutine that ends when a stops.
func (a *adminServer) start(g *Gateway) {
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("admin listener failed", "addr", a.ln.Addr().String(), "error", err)
		}
	}()
}

// stop closes the listener, lets the requests being answered finish for a
// little while, and waits for the serving goroutine.
func (a *adminServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	<-a.done
}

// writeText answers with a plain-text body.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// slogPrinter sends promhttp's errors to the gateway's log.
type slogPrinter struct{ g *Gateway }

func (p slogPrinter) Println(v ...any) {
	p.g.logger.Error("metrics", "error", fmt.Sprint(v...))
}
