package gateway

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// dashboardPage is the admin listener's dashboard: one page of HTML, CSS
// and script, with nothing fetched from elsewhere, that draws what
// /events sends.
//
//go:embed dashboard/index.html
var dashboardPage []byte

// DashboardState is what the admin endpoint /events sends, once a
// second, as the data of each server-sent event: everything the
// dashboard shows.
type DashboardState struct {
	// Time is when the state was taken.
	Time time.Time `json:"time"`
	// Status is what /status answers.
	Status StatusReport `json:"status"`
	// Reloads is what /reloads answers.
	Reloads []ReloadRecord `json:"reloads"`
	// Rates are the request and error rates of each pool over the last
	// five minutes, sampled once a second: in the first event of a
	// stream, and whenever RatesSince is 0, all of them; otherwise, when
	// RatesSince is a time in Unix seconds, only the points after it,
	// for the receiver to add to those it has. Every pool is listed
	// either way, so that one a reload removed can be dropped.
	Rates      []PoolRates `json:"rates"`
	RatesSince int64       `json:"ratesSince"`
	// Health lists the last health transitions of backends, oldest
	// first, as the sampler saw them.
	Health []HealthEvent `json:"health"`
}

// dashboard serves the admin listener's dashboard, GET / and GET
// /events, and samples the rates it draws into its [history]. The admin
// server owns it: its sampler runs from [dashboard.start] until
// [dashboard.stop], which also ends the event streams.
type dashboard struct {
	g       *Gateway
	history *history

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newDashboard(g *Gateway) *dashboard {
	d := &dashboard{g: g, history: newHistory()}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// start starts the sampler.
func (d *dashboard) start() {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.history.run(d.ctx, d.g)
	}()
}

// stop stops the sampler and ends the event streams, and returns once
// the sampler has stopped.
func (d *dashboard) stop() {
	d.cancel()
	d.wg.Wait()
}

// state returns what the dashboard shows now.
func (d *dashboard) state() DashboardState {
	s := DashboardState{Time: time.Now(), Status: d.g.Status(), Reloads: d.g.Reloads()}
	if s.Reloads == nil {
		s.Reloads = []ReloadRecord{}
	}
	s.Rates, s.Health = d.history.snapshot()
	return s
}

// servePage answers GET / with the dashboard page.
func (d *dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The page is read-only and self-contained: it may run its own
	// script and styles and connect back here, and nothing else.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(dashboardPage)
}

// serveEvents answers GET /events with a stream of server-sent events:
// a [DashboardState] at once, then one after each sample of the history,
// until the client leaves or the admin server shuts down.
func (d *dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var since int64 // the time of the last point sent
	for {
		next := d.history.next()
		st := d.state()
		st.RatesSince = since
		for i := range st.Rates {
			pr := &st.Rates[i]
			if n := len(pr.Points); n > 0 && pr.Points[n-1].Time > since {
				since = pr.Points[n-1].Time
			}
		}
		if st.RatesSince > 0 {
			for i := range st.Rates {
				pr := &st.Rates[i]
				pr.Points = slices.DeleteFunc(pr.Points, func(p RatePoint) bool { return p.Time <= st.RatesSince })
			}
		}
		data, err := json.Marshal(st)
		if err != nil {
			d.g.logger.Error("dashboard event", "error", err)
			return
		}
		if _, err := w.Write([]byte("event: state\ndata: ")); err != nil {
			return
		}
		w.Write(data)
		w.Write([]byte("\n\n"))
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-next:
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		}
	}
}
