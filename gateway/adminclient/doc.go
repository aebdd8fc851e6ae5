// Package adminclient talks to a running gateway's admin listener, the
// address the config names in `admin`, and presents what it answers.
//
// [Status] fetches /status, the JSON of a [gateway.StatusReport], and
// [WriteStatusTable] renders it as the tables `gateway status` prints.
// [Running] fetches the running config of /config with the state of
// /status, which `gateway diff` compares a file with ([gateway.Diff]). An
// address is "host:port" or a URL such as "http://host:port"; each request
// is bounded by 5 seconds, and an error says what failed and where.
package adminclient
