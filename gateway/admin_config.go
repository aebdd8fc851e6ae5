package gateway

import (
	"encoding/json"
	"net/http"
)

// ConfigReport is what the admin endpoint /config answers: the config
// being served, which `gateway diff --admin` compares a file with.
type ConfigReport struct {
	// Generation is the number of the generation being served.
	Generation uint64 `json:"generation"`
	// Hash is the hex SHA-256 of the config content that runs, as
	// /status reports it.
	Hash string `json:"hash"`
	// Config is the effective config, every default filled in, in the
	// JSON form of a config file ([config.Config.JSON]), without secrets
	// ([config.Config.Redacted]): certificates are named by their paths,
	// and header rule values are shown as "sha256:" and 12 hex digits.
	Config json.RawMessage `json:"config"`
}

// serveConfig answers /config, or 503 before the first config.
func (g *Gateway) serveConfig(w http.ResponseWriter, r *http.Request) {
	gen := g.gen.Load()
	if gen == nil {
		writeText(w, http.StatusServiceUnavailable, "no config loaded")
		return
	}
	serveJSON(w, ConfigReport{Generation: gen.number, Hash: g.RunningHash(), Config: gen.cfg.Redacted().JSON()})
}
