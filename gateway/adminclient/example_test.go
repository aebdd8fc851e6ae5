package adminclient_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/gatewayhq/gateway/gateway/adminclient"
)

func ExampleWriteStatusTable() {
	body := `{"generation": {"number": 1, "hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
	  "loadedAt": "2025-01-02T03:04:05Z", "source": "gateway.yaml"},
	  "pools": [{"name": "default", "algorithm": "round_robin", "backends": [
	    {"url": "http://localhost:5001", "healthy": true, "state": "up", "reason": "starting",
	     "requests": 42, "carried": false, "lastProbe": null}]}],
	  "ready": true}`
	if err := adminclient.WriteStatusTable(os.Stdout, strings.NewReader(body)); err != nil {
		fmt.Println(err)
	}
	// Output:
	// generation 1  hash 2c26b46b68ff  loaded 2025-01-02T03:04:05Z  from gateway.yaml  (ready)
	//
	// pool default (round_robin)
	// BACKEND                STATE  REASON    IN-FLIGHT  REQUESTS  FAILS  LAST-PROBE  CARRIED
	// http://localhost:5001  up     starting  0          42        0      -           no
}
