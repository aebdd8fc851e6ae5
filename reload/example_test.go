package reload_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayhq/gateway/reload"
)

func ExampleHash() {
	fmt.Println(reload.Hash([]byte("hello")))
	// Output: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}

func ExampleWatcher() {
	dir, err := os.MkdirTemp("", "gateway-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gateway.yaml")
	running := []byte("listen: :8080\n")
	if err := os.WriteFile(path, running, 0o644); err != nil {
		fmt.Println(err)
		return
	}

	changes := make(chan []byte, 1)
	w := reload.New(path, func(data []byte) { changes <- data }, reload.Options{Initial: running})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-w.Ready()

	// Save the file the way an editor does: write a new file, rename it over.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("listen: :9090\n"), 0o644); err != nil {
		fmt.Println(err)
	} else if err := os.Rename(tmp, path); err != nil {
		fmt.Println(err)
	}

	select {
	case data := <-changes:
		fmt.Printf("new config %.12s: %s", reload.Hash(data), data)
	case <-time.After(5 * time.Second):
		fmt.Println("no change seen")
	}
	cancel()
	fmt.Println("Run returned:", <-done)
	// Output:
	// new config 516b7399990a: listen: :9090
	// Run returned: <nil>
}
