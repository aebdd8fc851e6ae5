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
// decoded already. Each attempt, applied or rejected, returns a
// [ReloadRecord] that [Gateway.Reloads] keeps among the last 20. A config
// that does not decode, or whose listeners or access log cannot be opened,
// is rejected as a whole and the running config keeps serving.
//
// # Generations
//
// What one config produces, its pools, their backends and the routes to
// them, is a generation, numbered from 1. The next generation is built
// beside the running one and published with a single atomic store; a
// request loads the generation once and finishes on it, however long it
// takes. A backend whose address and settings did not change is carried
// into the next generation with its health, counters, in-flight requests and
// keep-alive connections; a new one starts up and is probed at once; one
// that left the config stops probing and closes its idle connections at
// once, and the others as their requests end. A changed listen address is
// bound before anything is published.
//
// # Requests
//
// The public listener ([Gateway.Addr]) matches each request against the
// routes in order, the first match winning, and answers 404 when none
// matches. The route's pool picks a healthy backend with its algorithm,
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
// (serve.go) and routed (route.go), its exchange is prepared
// (prepare.go), a backend is picked and tried, failing over to the next,
// in the one failover loop that proxied requests and upgrades share
// (pick.go), in a round trip (roundtrip.go) over the backend's pooled
// connections (upstream_conn.go), the response is relayed (relay.go, or
// tunnel.go after a 101), and the exchange is counted and logged
// (observe.go).
//
// # Observing
//
// [Gateway.Status] reports the generation being served and every backend's
// state as a [StatusReport]; [Gateway.Ready] says whether the gateway serves
// a config and is not draining. When the config names an admin address, the
// admin listener ([Gateway.AdminAddr]) answers /healthz, /readyz, /status
// (the StatusReport as JSON), /reloads (the ReloadRecords as JSON) and
// /metrics (Prometheus).
//
// # Stopping
//
// [Gateway.Shutdown] stops accepting connections, lets the requests in
// flight and upgraded connections finish until its context is done, then
// closes what is left and stops every health checker.
// [Gateway.ShutdownTimeout] is how long the config allows for that.
package gateway
