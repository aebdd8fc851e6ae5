package config_test

import (
	"errors"
	"fmt"

	"github.com/gatewayhq/gateway/gateway/config"
)

func ExampleDecode() {
	// The original one-line config: one pool of two servers.
	c, err := config.Decode("gateway.json", []byte(`{"port": ":8080", "healthCheckInterval": "2s", "servers": ["http://localhost:5001", "http://localhost:5002"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listen", c.Listen)
	for _, p := range c.Pools {
		fmt.Println("pool", p.Name, p.Algorithm, "probed every", p.HealthCheck.Interval)
		for _, s := range p.Servers {
			fmt.Println("  server", s.URL, "weight", s.Weight)
		}
	}
	for _, r := range c.Routes {
		fmt.Printf("route hosts=%q pathPrefix=%q -> %s\n", r.Hosts, r.PathPrefix, r.Pool)
	}

	// A config with mistakes: every one is reported, with where it is.
	_, err = config.Decode("gateway.yaml", []byte(`listen: 8080
pools:
  api:
    servers: [localhost:5001]
    healthCheck: {intreval: 2s}
routes:
  - pool: apii
`))
	fmt.Println(err)
	// Output:
	// listen :8080
	// pool default round_robin probed every 2s
	//   server http://localhost:5001 weight 1
	//   server http://localhost:5002 weight 1
	// route hosts=[] pathPrefix="" -> default
	// gateway.yaml:4:15: pools.api.servers[0]: missing scheme; write it as "http://localhost:5001" (got "localhost:5001")
	// gateway.yaml:5:19: pools.api.healthCheck.intreval: unknown key "intreval"; did you mean "interval"?
	// gateway.yaml:7:11: routes[0].pool: no pool named "apii"; did you mean "api"?
}

func ExampleConfigError() {
	_, err := config.Decode("gateway.yaml", []byte("servers: [http://a:1, http://a:1]\nshutdownTimeout: 5\n"))
	var ce *config.ConfigError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Printf("line %d, column %d, key %s: %s\n", p.Line, p.Col, p.Path, p.Message)
		}
	}
	// Output:
	// line 1, column 23, key servers[1]: the same server as servers[0]
	// line 2, column 18, key shutdownTimeout: a number is not a duration; use a duration such as "2s" or "100ms"
}
