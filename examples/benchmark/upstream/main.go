// Command upstream is the backend of the gateway's benchmark: a plain
// net/http server that answers every request with its name, so that each
// proxy in the comparison pays the same for the backend.
//
//	upstream -listen 127.0.0.1:19311 -name b0
//
// Paths:
//
//	/            200 "<name>\n" (Content-Length framed)
//	/bytes?n=N   200 and N bytes, written in pieces (chunked)
//
// Every answer carries X-Backend: <name>.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19311", "address to listen on")
	name := flag.String("name", "", "backend name reported in X-Backend and in the body (default: the listen address)")
	flag.Parse()
	if *name == "" {
		*name = *listen
	}
	payload := strings.Repeat("x", 1<<20)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, *name+"\n")
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for n > 0 {
			k := min(n, len(payload))
			io.WriteString(w, payload[:k])
			n -= k
		}
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", *name)
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
