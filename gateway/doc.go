// Package gateway is an HTTP load balancer and reverse proxy that serves the
// pools and routes of a [config.Config] and takes a new config while it
// runs, without dropping a request.
//
// # Use
//
// [New] returns a [Gateway] that serves nothing until a config is applied:
//
//	g := gateway.New(gateway.Options{Logger: logger})
//	if _, err := g.LoadFile("gateway.yaml", gateway.TriggerStart); err != nil {
//		return err
//	}
//	// ... until it is time to stop:
//	ctx, cancel := context.WithTimeout(context.Background(), g.ShutdownTimeout())
//	defer cancel()
//	err := g.Shutdown(ctx)
//
// [Gateway.Load] decodes a config's bytes with [config.Decode], the code
// path `gateway validate` checks files with, and applies the result;
// [Gateway.LoadFile] reads the file first, and [Gateway.Apply] takes a config
// decoded already. Each attempt, applied, unchanged or rejected, returns a
// [ReloadRecord] that [Gateway.Reloads] keeps among the last 20 of its
// source. A config that does not decode, or whose listeners or access log
// cannot be opened, is rejected as a whole and the running config keeps
// serving; one equal to the running config builds nothing and is recorded
// as unchanged.
//
// [Run] is the whole life of the gateway command: it loads a config file,
// serves it, reloads it when a [Watcher] reads it changed or a reload
// signal asks, and drains on a stop signal or when its context ends. A
// test can drive it with channels in place of signals.
//
// # Generations
//
// What one config produces, its pools, their backends and the routes to
// them, is a generation, numbered from 1. The next generation is built
// beside the running one and published with a single atomic store; a
// request loads the generation once and finishes on it, however long it
// takes.
//
// A backend is one server of one pool, identified by the pool's name and
// the server's [config.CanonicalURL], and nothing else: a server listed in
// two pools is two backends, each with the health its own pool's checks
// give it. Generations share backends. One that stays in the config is
// carried into the next generation with its health, counters, in-flight
// requests and keep-alive connections, also when the URL is only respelled
// ("http://127.0.0.1:08080" is "http://127.0.0.1:8080"), and its pool's new
// settings are applied to it in place: new probe settings (the probes'
// Host header among them) restart its checker without changing its
// verdict, new passive settings apply to its next failure, a new response
// timeout to the next read of its open connections, and only a new connect
// or idle timeout replaces its connections. Requests read those settings
// with single atomic loads and take no lock. A new backend starts up and
// is probed at once; one that left the config stops probing. Connections
// that a backend's removal or new timeouts retire close once unused: the
// idle ones at once, each other one when its request ends.
//
// A resolved server ([config.ServerConfig.Resolve]) stands for one
// backend per address of its name, each identified as a server would be
// with the address in place of the name, in address order, on the URL's
// scheme and port; an https one is spoken to, and probed, with the name as
// TLS server name, and its probes carry the name, not the address, as
// Host unless healthCheck.host sets one. The gateway
// looks each such name up, A and AAAA together, when a config brings it
// in, before that config's generation is built, and then every
// dns.refresh; a reload that keeps the name keeps its addresses and its
// rhythm. An answer that changes a name's set of addresses makes the next
// generation, from the running config and the new set, built, carried
// over and published as a reload's is, and recorded with the trigger
// [TriggerDNS]; an address that stays keeps its backend, whatever the
// order of the answer. A lookup that fails keeps the addresses; an answer
// that the name has none (NXDOMAIN, or no A or AAAA record) empties them,
// and a pool left without backends answers 503.
//
// Applying a config plans what it does to the public and HTTPS listeners'
// sockets and server, the admin listener and the access log, opens what
// the plan needs (a changed address is bound, a new log file opened, TLS
// files not loaded yet read and checked) and rejects the config if any of
// it fails, and puts it into service once the generation is published. The listeners' sockets belong to entrances that outlive
// the servers in front of them: connections are counted against
// maxConnections per entrance, a new server takes over the same socket
// without a connection being refused, and a socket the config moved away
// from goes on accepting for the new server until its clients have gone.
// Which backends are carried over, added and removed, and what happens to
// the listeners and the access log, is decided first, by pure functions
// of what is in service and the new config, and then carried out; [Diff]
// runs the same functions against another config or a running gateway's
// /status and reports the decision as a [DiffReport], which `gateway diff`
// prints.
//
// # Requests
//
// The public listener ([Gateway.Addr]) matches each request against the
// routes in order, the first match winning, and answers 404 when none
// matches; an index by exact host and wildcard suffix finds the candidate
// routes without changing which one wins. A route may answer itself,
// with a redirect or, past its per-client rate limit, with 429; it may
// rewrite the path's prefix and edit headers both ways; and it sends to
// one pool or splits its requests over several by weight. The pool picks
// a healthy backend with its algorithm,
// and the request goes to it over the backend's own scheme and address,
// whatever target the client wrote, on a keep-alive connection of the
// backend's pool. Its head goes out at once and its body streams while the
// response is read, so a backend may answer before it has read the body
// and is relayed at once. A backend that cannot be connected to, or that
// closes the connection before any response byte while nothing of the
// body was sent, is counted as failed and the request goes to the next
// one. The gateway answers 503 when no backend of the pool is healthy,
// 504 when the backend did not answer in time and 502 when none answered
// usably, with a reason that names no address.
//
// A request's way through the package follows its files: it is screened
// (serve.go) and routed (route.go, with route_edit.go for rewrites,
// header rules and redirects, split.go and rate_limit.go), its exchange
// is prepared (prepare.go), a backend is picked and tried, failing over to the next,
// in the one failover loop that proxied requests and upgrades share
// (pick.go), in a round trip (roundtrip.go) over the backend's pooled
// connections (upstream_conn.go), the response is relayed (relay.go, or
// tunnel.go after a 101), and the exchange is counted and logged
// (observe.go).
//
// # TLS
//
// With a config's tls, the HTTPS listener ([Gateway.TLSAddr]) hands its
// connections, in TLS, to the public listener's server: one connection
// cap, one hand-over across reloads, one data path, told apart by
// X-Forwarded-Proto. Each handshake runs on its connection's goroutine
// and reads the certificates through one atomic load of an immutable
// snapshot, which picks the certificate by the server name asked for: an
// exact DNS name, else a one-label wildcard, else the first. Backends of
// https:// servers are verified with their pool's tls settings, for
// requests and probes alike.
//
// With tls.http2, ALPN offers h2 first, and the public listener's server
// hands a connection that chose it to an HTTP/2 server of the same
// settings, Go's net/http one. Each stream of it becomes a request of the
// same data path, in a fasthttp.RequestCtx of its own over a stand-in
// for the stream: routes, the failover loop, the round trip over the
// backends' pools, relay and observation are the ones HTTP/1.1 requests
// take, and backends are spoken to in HTTP/1.1. A retired server's
// HTTP/2 connections, and all of them at shutdown, get GOAWAY and finish
// their streams in flight.
//
// The TLS files a config names are loaded when it is applied, and
// [CheckFiles] checks them as `gateway validate` does. [Run] has its
// [Watcher] watch them too: a file that changes is read again with what
// is made of it (a certificate with its key, or a CA file), and published
// with one atomic store when it is valid, or rejected while the previous
// one serves on. Each attempt is a [ReloadRecord] with trigger
// certificate and the file; no generation is built.
//
// # Observing
//
// The admin listener also serves a dashboard: GET / is one page, embedded
// in the binary, that follows GET /events, a stream of server-sent events
// each carrying a [DashboardState]: the StatusReport, the ReloadRecords,
// every pool's request and 5xx rates over the last five minutes
// ([PoolRates]) and the backends' health transitions ([HealthEvent]). A
// sampler owned by the admin server reads the request counters and
// health once a second to keep them, off the request path.
//
// [Gateway.Status] reports the generation being served, every backend's
// state, the certificates and the last answer for each resolved server's
// name as a [StatusReport]; [Gateway.Ready] says whether the gateway serves
// a config and is not draining. When the config names an admin address, the
// admin listener ([Gateway.AdminAddr]) answers /healthz, /readyz, /status
// (the StatusReport as JSON), /reloads (the ReloadRecords as JSON),
// /config (a [ConfigReport]: the running config, without secrets) and
// /metrics (Prometheus).
//
// # Stopping
//
// [Gateway.Shutdown] stops looking names up, stops accepting connections,
// lets the requests in flight and upgraded connections finish until its
// context is done, then closes what is left and stops every health
// checker.
// [Gateway.ShutdownTimeout] is how long the config allows for that; [Run]
// gives it that long, or stops at once on a second stop signal.
package gateway
