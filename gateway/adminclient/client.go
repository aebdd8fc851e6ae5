package adminclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// timeout bounds one request to the admin listener, from dialing to the
// last byte of the answer.
const timeout = 5 * time.Second

// Status fetches /status from the admin listener at addr, "host:port" or a
// URL such as "http://host:port", and returns the answer's body as the
// gateway sent it: the JSON of a [gateway.StatusReport], which
// [WriteStatusTable] renders. It fails when the listener does not answer
// within 5 seconds, or before ctx is done, or answers anything but 200.
func Status(ctx context.Context, addr string) ([]byte, error) {
	return get(ctx, addr, "/status")
}

// get fetches path from the admin listener at addr, "host:port" or a URL
// such as "http://host:port", within [timeout], and returns the body of a
// 200 answer. Its errors say what went wrong and where, for a person who
// ran a command against addr.
func get(ctx context.Context, addr, path string) ([]byte, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	var resp *http.Response
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err == nil {
		client := &http.Client{Timeout: timeout}
		resp, err = client.Do(req)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (is the admin listener configured with `admin:`?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", base, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the %s answer of %s: %w", path, base, err)
	}
	return body, nil
}
