package demo

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func ExampleConfig() {
	template := []byte(`listen: "127.0.0.1:8080"
admin: "127.0.0.1:9901"
pools:
  demo:
    servers:
      - http://127.0.0.1:9001
      - http://127.0.0.1:9002
      - http://127.0.0.1:9003
`)
	fmt.Print(string(Config(template, "127.0.0.1:18080", "127.0.0.1:19901",
		[]string{"127.0.0.1:19001", "127.0.0.1:19002", "127.0.0.1:19003"})))
	// Output:
	// listen: "127.0.0.1:18080"
	// admin: "127.0.0.1:19901"
	// pools:
	//   demo:
	//     servers:
	//       - http://127.0.0.1:19001
	//       - http://127.0.0.1:19002
	//       - http://127.0.0.1:19003
}

func TestStartBackendsAnswerWithTheirNames(t *testing.T) {
	bound, stop, err := StartBackends([]string{"127.0.0.1:0", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for i, addr := range bound {
		resp, err := http.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("backend-%d (%s) answered GET /x\n", i+1, addr)
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("X-Backend") != fmt.Sprintf("backend-%d", i+1) {
			t.Errorf("backend %d: %d %q, want 200 %q", i+1, resp.StatusCode, body, want)
		}
	}
	if _, _, err := StartBackends([]string{bound[0]}); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a backend on an address in use: err = %v, want address already in use", err)
	}
}
