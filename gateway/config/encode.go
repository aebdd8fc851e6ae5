package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// JSON returns c in the JSON form of a config file, every setting spelled
// out with the value it holds, defaults included, and keys in the order
// full.yaml documents them: [Decode] of the result gives a config equal
// to c but for [Config.Source] and [Config.Hash]. Pools and routes keep
// their order; pools are written under `pools` and every route under
// `routes`, the ones the `servers` shorthand or a lone pool implies
// included. File paths are written absolute, a relative one taken
// against the working directory as the gateway opens it, so that the
// result means the same files wherever it is decoded.
func (c *Config) JSON() []byte {
	top := object{}
	if c.Listen != "" {
		top.set("listen", c.Listen)
	}
	if c.Admin != "" {
		top.set("admin", c.Admin)
	}
	switch c.AccessLog {
	case "":
	case "-":
		top.set("accessLog", true)
	default:
		top.set("accessLog", c.AccessLog)
	}
	if len(c.TrustedProxies) > 0 {
		list := make([]string, len(c.TrustedProxies))
		for i, p := range c.TrustedProxies {
			list[i] = p.String()
		}
		top.set("trustedProxies", list)
	}
	top.set("clientHeaderTimeout", duration(c.ClientHeaderTimeout))
	top.set("clientIdleTimeout", duration(c.ClientIdleTimeout))
	top.set("maxHeaderBytes", c.MaxHeaderBytes)
	top.set("maxBodySize", c.MaxBodySize)
	top.set("maxConnections", c.MaxConnections)
	top.set("shutdownTimeout", duration(c.ShutdownTimeout))
	dns := object{}
	if len(c.DNS.Resolvers) > 0 {
		dns.set("resolvers", c.DNS.Resolvers)
	}
	dns.set("refresh", duration(c.DNS.Refresh))
	dns.set("timeout", duration(c.DNS.Timeout))
	top.set("dns", dns)
	if t := c.TLS; t != nil {
		top.set("tls", tlsObject(t))
	}
	pools := object{}
	for _, p := range c.Pools {
		pools.set(p.Name, poolObject(p))
	}
	top.set("pools", pools)
	routes := make([]object, len(c.Routes))
	for i := range c.Routes {
		routes[i] = routeObject(&c.Routes[i])
	}
	top.set("routes", routes)
	out, _ := json.MarshalIndent(top, "", "  ")
	return out
}

// tlsObject returns `tls`.
func tlsObject(t *TLSConfig) object {
	o := object{}
	o.set("listen", t.Listen)
	certs := make([]object, len(t.Certificates))
	for i, cc := range t.Certificates {
		certs[i] = object{}
		certs[i].set("certFile", absPath(cc.CertFile))
		certs[i].set("keyFile", absPath(cc.KeyFile))
	}
	o.set("certificates", certs)
	o.set("minVersion", t.MinVersion)
	o.set("http2", t.HTTP2)
	o.set("redirectHTTP", t.RedirectHTTP)
	if t.ClientCA != "" {
		o.set("clientCA", absPath(t.ClientCA))
		o.set("clientAuth", t.ClientAuth)
	}
	return o
}

// poolObject returns one entry of `pools`.
func poolObject(p *PoolConfig) object {
	o := object{}
	o.set("algorithm", string(p.Algorithm))
	servers := make([]object, len(p.Servers))
	for i, s := range p.Servers {
		servers[i] = object{}
		servers[i].set("url", s.URL.String())
		servers[i].set("weight", s.Weight)
		servers[i].set("resolve", s.Resolve)
	}
	o.set("servers", servers)
	hc := p.HealthCheck
	h := object{}
	h.set("enabled", hc.Enabled)
	h.set("method", hc.Method)
	h.set("path", hc.Path)
	if hc.Host != "" {
		h.set("host", hc.Host)
	}
	h.set("interval", duration(hc.Interval))
	h.set("timeout", duration(hc.Timeout))
	h.set("healthyThreshold", hc.HealthyThreshold)
	h.set("unhealthyThreshold", hc.UnhealthyThreshold)
	expect := make([]string, len(hc.ExpectStatus))
	for i, r := range hc.ExpectStatus {
		expect[i] = r.String()
	}
	h.set("expectStatus", expect)
	o.set("healthCheck", h)
	ps := object{}
	ps.set("maxFails", p.Passive.MaxFails)
	ps.set("window", duration(p.Passive.Window))
	ps.set("ejectFor", duration(p.Passive.EjectFor))
	ps.set("on5xx", p.Passive.On5xx)
	o.set("passive", ps)
	o.set("connectTimeout", duration(p.ConnectTimeout))
	o.set("responseHeaderTimeout", duration(p.ResponseHeaderTimeout))
	o.set("idleTimeout", duration(p.IdleTimeout))
	t := object{}
	if p.TLS.CAFile != "" {
		t.set("caFile", absPath(p.TLS.CAFile))
	}
	if p.TLS.CertFile != "" {
		t.set("certFile", absPath(p.TLS.CertFile))
		t.set("keyFile", absPath(p.TLS.KeyFile))
	}
	if p.TLS.ServerName != "" {
		t.set("serverName", p.TLS.ServerName)
	}
	t.set("insecureSkipVerify", p.TLS.InsecureSkipVerify)
	o.set("tls", t)
	return o
}

// routeObject returns one entry of `routes`.
func routeObject(r *RouteConfig) object {
	o := object{}
	if r.Name != "" {
		o.set("name", r.Name)
	}
	if len(r.Hosts) > 0 {
		o.set("host", r.Hosts)
	}
	if r.PathPrefix != "" {
		o.set("pathPrefix", r.PathPrefix)
	}
	if r.Path != "" {
		o.set("path", r.Path)
	}
	if len(r.Methods) > 0 {
		o.set("methods", r.Methods)
	}
	if len(r.Headers) > 0 {
		o.set("headers", fieldsObject(r.Headers))
	}
	if r.RewritePrefix != "" {
		o.set("rewritePrefix", r.RewritePrefix)
	}
	if rules, ok := rulesObject(r.RequestHeaders); ok {
		o.set("requestHeaders", rules)
	}
	if rules, ok := rulesObject(r.ResponseHeaders); ok {
		o.set("responseHeaders", rules)
	}
	switch {
	case r.Redirect != nil:
		rd := object{}
		if r.Redirect.Scheme != "" {
			rd.set("scheme", r.Redirect.Scheme)
		}
		if r.Redirect.Host != "" {
			rd.set("host", r.Redirect.Host)
		}
		if r.Redirect.Port != 0 {
			rd.set("port", r.Redirect.Port)
		}
		if r.Redirect.Prefix != "" {
			rd.set("prefix", r.Redirect.Prefix)
		}
		rd.set("code", r.Redirect.Code)
		o.set("redirect", rd)
	case len(r.Pools) > 0:
		split := make([]object, len(r.Pools))
		for i, pw := range r.Pools {
			split[i] = object{}
			split[i].set("pool", pw.Pool)
			split[i].set("weight", pw.Weight)
		}
		o.set("pools", split)
		o.set("sticky", r.Sticky)
	default:
		o.set("pool", r.Pool)
	}
	if r.RateLimit.RequestsPerSecond > 0 {
		rl := object{}
		rl.set("requestsPerSecond", r.RateLimit.RequestsPerSecond)
		rl.set("burst", r.RateLimit.Burst)
		o.set("rateLimit", rl)
	}
	return o
}

// rulesObject returns `requestHeaders` or `responseHeaders`, and whether
// r has any rule.
func rulesObject(r HeaderRules) (object, bool) {
	o := object{}
	if len(r.Set) > 0 {
		o.set("set", fieldsObject(r.Set))
	}
	if len(r.Add) > 0 {
		o.set("add", fieldsObject(r.Add))
	}
	if len(r.Remove) > 0 {
		o.set("remove", r.Remove)
	}
	return o, len(o.keys) > 0
}

// fieldsObject returns a mapping of header names to values.
func fieldsObject(fields []HeaderField) object {
	o := object{}
	for _, f := range fields {
		o.set(f.Name, f.Value)
	}
	return o
}

// String returns r as `expectStatus` writes it: "200" or "200-399".
func (r StatusRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(r.Lo)
	}
	return strconv.Itoa(r.Lo) + "-" + strconv.Itoa(r.Hi)
}

// absPath returns path made absolute against the working directory, or
// path when that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// duration returns d as a config file writes it.
func duration(d time.Duration) string { return d.String() }

// object is a JSON object whose keys keep the order they were set in.
type object struct {
	keys []string
	vals []any
}

func (o *object) set(key string, v any) {
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

// MarshalJSON writes the keys in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		v, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Redacted returns a copy of c without secrets, as the admin endpoint
// /config shows the running config: the value of every header rule
// (`requestHeaders` and `responseHeaders`, set and add) is replaced by
// "sha256:" and the first 12 hex digits of its SHA-256, since such values
// may hold tokens. Certificates are named by their paths only, which c
// holds already. Comparing two redacted configs tells a changed value
// from the same one without showing either. Every value is hashed, one
// that already looks redacted too, so that a value written as another's
// digest never passes for it.
func (c *Config) Redacted() *Config {
	r := *c
	r.Routes = make([]RouteConfig, len(c.Routes))
	for i, rc := range c.Routes {
		rc.RequestHeaders = redactRules(rc.RequestHeaders)
		rc.ResponseHeaders = redactRules(rc.ResponseHeaders)
		r.Routes[i] = rc
	}
	return &r
}

// redactRules returns r with the values of its set and add rules
// redacted.
func redactRules(r HeaderRules) HeaderRules {
	r.Set, r.Add = redactFields(r.Set), redactFields(r.Add)
	return r
}

// redactedPrefix starts a redacted header value.
const redactedPrefix = "sha256:"

func redactFields(fields []HeaderField) []HeaderField {
	if fields == nil {
		return nil
	}
	out := make([]HeaderField, len(fields))
	for i, f := range fields {
		out[i] = f
		sum := sha256.Sum256([]byte(f.Value))
		out[i].Value = redactedPrefix + hex.EncodeToString(sum[:6])
	}
	return out
}

// Setting is one setting of a config: its key path, such as
// "pools.api.healthCheck.interval" or "routes[2].pathPrefix", and its
// value as [Config.JSON] writes it, a string without quotes and a list
// of strings or numbers joined by ", ".
type Setting struct {
	Key, Value string
}

// Settings returns every setting of c that [Config.JSON] writes, in its
// order: the leaves of its JSON, each with its key path.
func (c *Config) Settings() []Setting {
	var top object
	if err := unmarshalOrdered(c.JSON(), &top); err != nil {
		return nil
	}
	var out []Setting
	flatten("", top, &out)
	return out
}

// flatten appends the leaves of v under path to out.
func flatten(path string, v any, out *[]Setting) {
	switch v := v.(type) {
	case object:
		for i, k := range v.keys {
			flatten(keyPath(path, k), v.vals[i], out)
		}
	case []any:
		var scalars []string
		for i, item := range v {
			if o, ok := item.(object); ok {
				flatten(itemPath(path, i), o, out)
				continue
			}
			scalars = append(scalars, scalar(item))
		}
		if len(scalars) == len(v) {
			*out = append(*out, Setting{path, strings.Join(scalars, ", ")})
		}
	default:
		*out = append(*out, Setting{path, scalar(v)})
	}
}

// scalar returns a JSON scalar as a setting's value.
func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// unmarshalOrdered decodes a JSON object into o, keeping the order of
// keys at every level.
func unmarshalOrdered(data []byte, o *object) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return err
	}
	top, ok := v.(object)
	if !ok {
		return errors.New("not a JSON object")
	}
	*o = top
	return nil
}

// decodeOrdered decodes the next JSON value of dec: objects as object,
// arrays as []any, and scalars as encoding/json does.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	return tok, nil
}
