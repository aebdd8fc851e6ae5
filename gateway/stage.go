package gateway

import (
	"fmt"

	"github.com/gatewayhq/gateway/gateway/config"
)

// Applying a config happens in three steps. [Gateway.plan] decides, for
// the public and HTTPS listeners, the admin listener and the access log,
// what the config asks of each, without touching anything.
// [Gateway.stage] opens what the plan needs (binds new addresses, opens a
// new access log file, loads the TLS files not loaded yet) and, if any of
// it fails, closes what it opened: the config is rejected and nothing
// running was touched. Once the generation is published,
// [Gateway.commit] puts what was staged into service and retires what it
// replaces; it cannot fail.

// action is what applying a config does to the public listener, the admin
// listener or the access log.
type action int

const (
	// actionNone: there is none, and the config asks for none.
	actionNone action = iota
	// actionKeep: the running one goes on as it is.
	actionKeep
	// actionStart: one is opened where there was none.
	actionStart
	// actionRestart: other settings; a new server takes over from the
	// running one (the public listener's server only).
	actionRestart
	// actionMove: another address or path; the new one is opened and the
	// running one retires.
	actionMove
	// actionStop: the running one closes, and none replaces it.
	actionStop
)

// String returns the action's name: none, keep, start, restart, move or
// stop.
func (a action) String() string {
	switch a {
	case actionKeep:
		return "keep"
	case actionStart:
		return "start"
	case actionRestart:
		return "restart"
	case actionMove:
		return "move"
	case actionStop:
		return "stop"
	}
	return "none"
}

// plan is what applying a config does to the public listener's socket
// (listen) and server, the HTTPS listener's socket (tlsListen), the admin
// listener and the access log.
type plan struct {
	listen, server, admin, accessLog, tlsListen action
}

// running is what a plan is decided against: the addresses, access log
// path and listener settings in service. A running gateway reports its
// own ([Gateway.running]); [runningOf] says what a gateway that serves a
// config has, which is how `gateway diff` plans offline.
type running struct {
	// listen, tlsListen, admin and accessLog are what the running config
	// names ("" for none).
	listen, tlsListen, admin, accessLog string
	// server is the settings of the public listener's server; nil before
	// the first config.
	server *listenerSettings
}

// running returns what g has in service. It is called under g.mu.
func (g *Gateway) running() running {
	r := running{listen: g.listenAddr, tlsListen: g.tlsListenAddr, admin: g.adminAddr}
	if s := g.accessLogSink(); s != nil {
		r.accessLog = s.path
	}
	if g.listener != nil {
		r.server = &g.listener.cfg
	}
	return r
}

// runningOf returns what a gateway serving cfg has in service.
func runningOf(cfg *config.Config) running {
	s := settingsOf(cfg)
	return running{listen: cfg.Listen, tlsListen: tlsListenOf(cfg), admin: cfg.Admin, accessLog: cfg.AccessLog, server: &s}
}

// tlsListenOf returns the HTTPS listener's address that cfg names, or "".
func tlsListenOf(cfg *config.Config) string {
	if cfg.TLS != nil {
		return cfg.TLS.Listen
	}
	return ""
}

// plan decides what applying cfg does, from what is running. It changes
// nothing. It is called under g.mu.
func (g *Gateway) plan(cfg *config.Config) plan {
	return decide(g.running(), cfg)
}

// decide decides what applying cfg does to what r has in service: the
// decision of [Gateway.plan], which `gateway diff` prints.
func decide(r running, cfg *config.Config) plan {
	return plan{
		listen:    planByName(r.listen, cfg.Listen),
		server:    planServer(r.server, cfg),
		tlsListen: planByName(r.tlsListen, tlsListenOf(cfg)),
		admin:     planByName(r.admin, cfg.Admin),
		accessLog: planByName(r.accessLog, cfg.AccessLog),
	}
}

// listener returns the one action that sums up what p does to the public
// listener, as a [ReloadRecord] names it: a new, moved or stopped socket
// first, else a restarted server, else keep (none when there is no
// plain listener and its server is kept).
func (p plan) listener() action {
	switch {
	case p.listen == actionStart || p.listen == actionMove || p.listen == actionStop:
		return p.listen
	case p.server == actionRestart:
		return actionRestart
	}
	return p.listen
}

// planServer decides what cfg asks of the public listener's server, given
// the settings of the running one (nil before the first config).
func planServer(running *listenerSettings, cfg *config.Config) action {
	switch {
	case running == nil:
		return actionStart
	case *running == settingsOf(cfg):
		return actionKeep
	}
	return actionRestart
}

// planByName decides what becomes of a listener or file named running
// ("" for none) when the config names want.
func planByName(running, want string) action {
	switch {
	case running == "" && want == "":
		return actionNone
	case running == "":
		return actionStart
	case want == "":
		return actionStop
	case running == want:
		return actionKeep
	}
	return actionMove
}

// stage holds what a config needs opened before it is published.
type stage struct {
	plan plan
	// socket is the public listener's new socket (start and move), and
	// listener its new server (start and restart).
	socket   *socket
	listener *listener
	// tlsSocket is the HTTPS listener's new socket (start and move).
	tlsSocket *socket
	// tls is the TLS material of the config.
	tls *tlsState
	// adminSocket is the admin listener's new socket (start and move).
	adminSocket *socket
	// logs is the new access log (start and move).
	logs *logSink
}

// stage opens what p needs for cfg. On failure it closes what it opened
// and returns an error that names the file and the key. It is called
// under g.mu.
func (g *Gateway) stage(cfg *config.Config, p plan) (*stage, error) {
	st := &stage{plan: p}
	fail := func(key string, err error) (*stage, error) {
		g.abort(st)
		return nil, fmt.Errorf("%s: %s: %w", cfg.Source, key, err)
	}
	if p.listen == actionStart || p.listen == actionMove {
		sock, err := g.public.bind(cfg.Listen)
		if err != nil {
			return fail("listen", err)
		}
		st.socket = sock
	}
	if p.tlsListen == actionStart || p.tlsListen == actionMove {
		sock, err := g.secure.bind(cfg.TLS.Listen)
		if err != nil {
			return fail("tls.listen", err)
		}
		st.tlsSocket = sock
	}
	tlsState, problems := loadTLSState(cfg, g.tls.Load())
	if len(problems) > 0 {
		g.abort(st)
		return nil, &config.ConfigError{File: cfg.Source, Problems: problems}
	}
	st.tls = tlsState
	if p.server == actionStart || p.server == actionRestart {
		st.listener = g.newListener(cfg)
	}
	if p.accessLog == actionStart || p.accessLog == actionMove {
		logs, err := openLogSink(cfg.AccessLog, g.logger)
		if err != nil {
			return fail("accessLog", err)
		}
		st.logs = logs
	}
	if p.admin == actionStart || p.admin == actionMove {
		sock, err := g.adminDoor.bind(cfg.Admin)
		if err != nil {
			return fail("admin", err)
		}
		st.adminSocket = sock
	}
	return st, nil
}

// abort closes what st opened, when its config was rejected after all.
func (g *Gateway) abort(st *stage) {
	if st.socket != nil {
		g.public.discard(st.socket)
	}
	if st.tlsSocket != nil {
		g.secure.discard(st.tlsSocket)
	}
	if st.listener != nil {
		st.listener.view.Close()
	}
	if st.logs != nil {
		st.logs.close()
	}
	if st.adminSocket != nil {
		g.adminDoor.discard(st.adminSocket)
	}
}

// commit puts what st staged for cfg into service and retires what it
// replaces. It is called under g.mu, once cfg's generation is published.
func (g *Gateway) commit(st *stage, cfg *config.Config) {
	g.public.limit.setMax(cfg.MaxConnections)
	if st.plan.accessLog != actionKeep && st.plan.accessLog != actionNone {
		g.swapAccessLog(st.logs)
	}

	switch from := g.public.addr(); {
	case st.socket != nil:
		g.public.commit(st.socket)
		g.listenAddr = cfg.Listen
		if st.plan.listen == actionMove {
			g.logger.Info("listener moved; the old address closes once its clients have gone",
				"listen", g.public.addr(), "from", from)
		}
	case st.plan.listen == actionStop:
		// The server answers what the retiring socket still accepts,
		// until its clients have gone.
		g.public.commit(nil)
		g.listenAddr = ""
		g.logger.Info("listener removed; the old address closes once its clients have gone", "from", from)
	}
	g.commitTLS(st, cfg)
	if ln := st.listener; ln != nil {
		old := g.listener
		g.listener = ln
		ln.start()
		if old != nil {
			old.retire()
			g.retired = append(stillServing(g.retired), old)
			g.logger.Info("listener settings changed; open connections close after their next response",
				"listen", g.public.addr())
		}
	}

	switch st.plan.admin {
	case actionStart, actionMove:
		g.adminDoor.commit(st.adminSocket)
		g.startAdmin()
	case actionStop:
		// The server answers what the retiring socket still accepts.
		g.adminDoor.commit(nil)
	}
	g.adminAddr = cfg.Admin
}
