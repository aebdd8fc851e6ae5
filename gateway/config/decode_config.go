package config

import (
	"math"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// defaultConfig returns the top-level settings a file leaves out.
func defaultConfig() Config {
	return Config{
		Listen:              ":8080",
		ClientHeaderTimeout: 10 * time.Second,
		ClientIdleTimeout:   60 * time.Second,
		MaxHeaderBytes:      16 << 10,
		MaxBodySize:         128 << 20,
		ShutdownTimeout:     30 * time.Second,
		DNS:                 defaultDNS(),
	}
}

// config decodes the top level of a config file.
func (d *decoder) config(root *yaml.Node) *Config {
	f, ok := d.fields(root, "", "a mapping of settings at the top level",
		"listen", "port", "admin", "accessLog", "trustedProxies",
		"clientHeaderTimeout", "clientIdleTimeout", "maxHeaderBytes", "maxBodySize", "maxConnections", "shutdownTimeout",
		"dns", "pools", "routes",
		"servers", "algorithm", "healthCheck", "healthCheckInterval", "passive",
		"connectTimeout", "responseHeaderTimeout", "idleTimeout", "tls", "backendTLS")
	if !ok {
		return nil
	}
	c := defaultConfig()
	_, hasListen := f["listen"]
	_, hasPort := f["port"]
	tls, hasTLS := f["tls"]
	if hasTLS && !hasListen && !hasPort {
		c.Listen = "" // HTTPS only
	}
	d.listenAddresses(f, &c)
	if hasTLS {
		c.TLS = d.tlsSection(tls, &c)
	}
	d.accessLog(f, &c)
	if e, ok := f["trustedProxies"]; ok {
		c.TrustedProxies = d.trustedProxies(e.value, e.key)
	}
	d.setDuration(f, "", "clientHeaderTimeout", &c.ClientHeaderTimeout, false)
	d.setDuration(f, "", "clientIdleTimeout", &c.ClientIdleTimeout, false)
	d.setInt(f, "", "maxHeaderBytes", &c.MaxHeaderBytes, 1<<10, 1<<20)
	if e, ok := f["maxBodySize"]; ok {
		if b, ok := d.size(e.value, e.key); ok {
			c.MaxBodySize = b
		}
	}
	d.setInt(f, "", "maxConnections", &c.MaxConnections, 0, math.MaxInt32)
	d.setDuration(f, "", "shutdownTimeout", &c.ShutdownTimeout, true)
	if e, ok := f["dns"]; ok {
		d.dns(e.value, e.key, &c.DNS)
	}

	pools := d.allPools(root, f, d.poolDefaults(f))
	c.Pools = pools.list
	c.Routes = d.routes(f, pools)
	c.keys = d.keys
	return &c
}

// accessLog decodes `accessLog`: true for standard output, false for
// off, or a file path, relative to the config file's directory.
func (d *decoder) accessLog(f map[string]mapEntry, c *Config) {
	e, ok := f["accessLog"]
	if !ok {
		return
	}
	const expected = "true, false or a file path"
	v := d.scalar(e.value, e.key, expected)
	if v == nil {
		return
	}
	switch v.ShortTag() {
	case tagBool:
		if on, ok := d.boolean(e.value, e.key); ok && on {
			c.AccessLog = "-"
		} else if ok {
			c.AccessLog = ""
		}
	case tagStr:
		c.AccessLog = v.Value
		// A file path is taken against the config file's directory, as
		// the TLS files are, whatever the working directory.
		if p := v.Value; p != "" && p != "-" && !filepath.IsAbs(p) {
			c.AccessLog = filepath.Join(d.dir(), p)
		}
	default:
		d.typeError(e.value, v, e.key, expected)
	}
}
