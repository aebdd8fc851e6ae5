package adminclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gatewayhq/gateway/gateway"
	"github.com/gatewayhq/gateway/gateway/config"
)

// Running fetches what the gateway whose admin listener is at addr
// serves: the config of /config, decoded as a file is, and the state of
// /status, both of the same generation (it asks again, up to three times,
// when a reload came between the two). It is what `gateway diff --admin`
// compares a file with.
func Running(ctx context.Context, addr string) (*config.Config, *gateway.StatusReport, error) {
	var err error
	for range 3 {
		var body []byte
		if body, err = get(ctx, addr, "/config"); err != nil {
			return nil, nil, err
		}
		var cr gateway.ConfigReport
		if err = json.Unmarshal(body, &cr); err != nil {
			return nil, nil, fmt.Errorf("decode the /config answer of %s: %w", addr, err)
		}
		source := strings.TrimSuffix(addr, "/") + "/config"
		cfg, derr := config.Decode(source, cr.Config)
		if derr != nil {
			return nil, nil, fmt.Errorf("the running config of %s: %w", addr, derr)
		}
		if body, err = Status(ctx, addr); err != nil {
			return nil, nil, err
		}
		var st gateway.StatusReport
		if err = json.Unmarshal(body, &st); err != nil {
			return nil, nil, fmt.Errorf("decode the /status answer of %s: %w", addr, err)
		}
		if st.Generation.Number == cr.Generation {
			return cfg, &st, nil
		}
		err = fmt.Errorf("%s published generation %d while it was asked", addr, st.Generation.Number)
	}
	return nil, nil, err
}
