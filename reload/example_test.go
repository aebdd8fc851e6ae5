package reload_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayhq/gateway/reload"
)

func ExampleWatcher() {
	dir, err := os.MkdirTemp("", "gateway-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte("listen: :8080\n"), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	reads := make(chan reload.Read, 1)
	w := reload.New(func(r reload.Read) { reads <- r }, reload.Options{})
	w.Watch(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-w.Ready()
	fmt.Printf("first read: %s", (<-reads).Data)

	// Save the file the way an editor does: write a new file, rename it over.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("listen: :9090\n"), 0o644); err != nil {
		fmt.Println(err)
	} else if err := os.Rename(tmp, path); err != nil {
		fmt.Println(err)
	}

	select {
	case r := <-reads:
		fmt.Printf("after the save: %s", r.Data)
	case <-time.After(5 * time.Second):
		fmt.Println("no change seen")
	}
	cancel()
	fmt.Println("Run returned:", <-done)
	// Output:
	// first read: listen: :8080
	// after the save: listen: :9090
	// Run returned: <nil>
}
