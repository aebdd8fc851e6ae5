// Package config decodes and validates the gateway's configuration file.
//
// [Load] reads a file and hands its bytes to [Decode]; Decode does the work
// and does no I/O beyond the bytes it is given, so a caller that already
// holds the content (a watcher, a test, a ConfigMap) decodes it the same way
// a file is loaded. The result is a [*Config] in which every setting holds a
// value, or an error and no config: a [*ConfigError] listing everything wrong
// with the content, or, from Load, the error that kept the file from being
// read.
//
// # Formats
//
// A config is YAML or JSON with the same keys. Decode picks the format by the
// source's extension (".yaml", ".yml" or ".json", in any case); without one
// of those, the content is JSON when its first non-space byte is '{' and YAML
// otherwise. A leading UTF-8 byte order mark is ignored. A YAML file holds a
// single document; anchors, aliases and merge keys ("<<") are supported, and
// keys written in a mapping win over merged ones. Durations are Go durations
// ("2s", "100ms") in both formats; a bare number is not a duration. Byte sizes
// are a number of bytes or a number with a unit: KiB, MiB, GiB (or k, m, g)
// for powers of 1024, KB, MB, GB for powers of 1000.
//
// The seed form, one pool of servers at the top level, decodes unchanged:
//
//	{"port": ":8080", "healthCheckInterval": "2s", "servers": ["http://localhost:5001"]}
//
// The top-level `servers` (with `algorithm`) declare a pool named "default"
// and a catch-all route to it, placed after any routes the file lists. A file
// with one pool and no routes gets a catch-all route to that pool; several
// pools and no routes is a problem. `healthCheck`, `passive` and the backend
// timeouts at the top level are defaults for every pool, which a pool's own
// keys override field by field.
//
// # Defaults
//
// Every field a file leaves out holds its default, documented on the field
// of [Config], [PoolConfig], [HealthCheckConfig], [PassiveConfig] and
// [DNSConfig]: among them listen ":8080", shutdownTimeout 30s, maxBodySize
// 128 MiB, algorithm round_robin, probes of "HEAD /" every 2s expecting
// 200-399, passive ejection after 3 failures within 10s, and names of
// resolved servers looked up every 5s within 2s on the nameservers of
// /etc/resolv.conf. A server's weight defaults to 1, and it is resolved
// ([ServerConfig.Resolve]) only when it says so.
// [Config.Source] names where the config came from and [Config.Hash] is the
// hex SHA-256 of its bytes.
//
// # Files
//
// Keys that name files (the certificates, keys and CA files of `tls`,
// `backendTLS` and a pool's `tls`) hold the path as written, made absolute
// against the directory of the config's source when it is relative (that
// directory itself made absolute against the working directory), so that
// a config means the same files from any working directory and equals
// the one [Config.JSON] writes of it.
// Decode never reads them, so a config can be decoded on a machine that
// lacks them; whoever reads them reports what is wrong with
// [Config.Problem], which locates the key as Decode locates its own
// problems.
//
// # Strictness
//
// Decode accepts only what it understands. Unknown keys are problems, with a
// "did you mean" when a known key is close; so are duplicate keys, values of
// the wrong type, null values, booleans not written as true or false, server
// URLs with a path, query or user info, duplicate servers (two URLs with
// the same [CanonicalURL] in one pool), `resolve: true` on a server whose
// host is an IP address, DNS resolvers given by name, routes to pools
// that do not exist, routes that an earlier route makes unreachable (its
// hosts, path, methods and headers all covered), routes with none or more
// than one of `pool`, `pools` and `redirect`, header rules that name a
// header the gateway decides itself (hop-by-hop, Content-Length,
// X-Forwarded-*), and a `rateLimit` on a route without a `name`.
//
// Decode does not stop at the first problem: it reports every one it finds,
// sorted by position, up to 100 per file (then a last one saying how many
// more there are). Each [Problem] carries the file,
// line, column, key path and offending value, and reads as
//
//	FILE:LINE:COL: KEY.PATH: message (got "value")
//
// for example
//
//	gateway.yaml:5:19: pools.api.healthCheck.intreval: unknown key "intreval"; did you mean "interval"?
//
// Lines and columns count from 1 and columns count characters. The YAML
// parser reports a syntax error's line only; its column is that of the
// line's first character. Every other problem has its exact position, in
// both formats.
//
// # Limits
//
// Hostile input is bounded: a config larger than 1 MiB is refused, values
// may nest at most 32 levels deep, and YAML aliases count against a budget of
// 262144 values, so an alias bomb is refused quickly.
package config
