package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer is the admin listener's server: a net/http server, apart
// from the public listener, that answers /healthz, /readyz, /status,
// /reloads, /config and /metrics. A gateway has one from the first config that
// names an admin address until it shuts down: it serves the admin
// [entrance], whose sockets the configs bind, so a reload that moves the
// admin address changes the socket and never the server, and no request
// is dropped between two servers. Its [dashboard] serves / and /events.
type adminServer struct {
	srv  *http.Server
	dash *dashboard
	done chan struct{}
}

// adminShutdownTimeout bounds how long the admin listener waits at
// shutdown for the requests it is answering.
const adminShutdownTimeout = 2 * time.Second

// AdminAddr returns the address the admin listener is bound to, or "" when
// there is none.
func (g *Gateway) AdminAddr() string {
	return g.adminDoor.addr()
}

// adminHandler routes the admin endpoints, and the dashboard's to dash.
func (g *Gateway) adminHandler(dash *dashboard) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", dash.servePage)
	mux.HandleFunc("GET /events", dash.serveEvents)
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
	mux.HandleFunc("GET /config", g.serveConfig)
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

// startAdmin starts the admin server, unless it runs already. It is
// called under g.mu.
func (g *Gateway) startAdmin() {
	if g.admin != nil {
		return
	}
	dash := newDashboard(g)
	a := &adminServer{
		dash: dash,
		srv: &http.Server{
			Handler:           g.adminHandler(dash),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
		},
		done: make(chan struct{}),
	}
	view := g.adminDoor.view()
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(view); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("admin listener failed", "error", err)
		}
	}()
	dash.start()
	g.admin = a
}

// closeAdmin stops the admin listener at shutdown: its sockets close at
// once, and the requests being answered get a little while to finish.
func (g *Gateway) closeAdmin() {
	g.mu.Lock()
	a := g.admin
	g.admin = nil
	g.mu.Unlock()
	g.adminDoor.close()
	if a == nil {
		return
	}
	a.dash.stop() // ends the event streams, which would hold Shutdown up
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
