package gateway

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatewayhq/gateway/gateway/testcert"
)

// chromiumPath returns the Chromium to drive. A test that needs it skips
// when there is none, except in CI (the CI environment variable set),
// where its absence fails the test: CI installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests: apt-get install -y chromium")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); the browser test runs in CI")
	return ""
}

// startBrowser starts a headless Chromium for the test, with the flags it
// needs to run as root in a container and to make no connection of its
// own, and a fresh profile; it is closed when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// No UserDataDir: chromedp gives each browser a fresh profile
		// directory of its own and removes it once Chromium's children
		// have let go of it, which a t.TempDir removed at once would not
		// wait for.
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// waitText waits, at most [waitBound], until the script expr, evaluated
// in the page, returns want, and fails with what it last returned.
func waitText(t *testing.T, ctx context.Context, what, expr, want string) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	var got string
	for {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			shot, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Logf("page text:\n%s", shot)
			t.Fatalf("timed out after %v waiting for %s: %s is %q (error %v), want %q", waitBound, what, expr, got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDashboardInBrowser loads the dashboard of a running gateway in
// headless Chromium and watches it follow the gateway without a reload
// of the page: the served certificate shows with its names and expiry, a
// backend whose health endpoint fails turns from up in green to down in
// red, a saved config shows as a new generation, and a rejected one as a
// rejected reload with its error in red. It saves a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	ctx := startBrowser(t)
	a, b := startFlappingBackend(t, "a"), startFlappingBackend(t, "b")
	cert := testcert.NewCA(t, "dashboard").Issue(t, testcert.ECDSA, time.Now().Add(90*24*time.Hour), "shop.example.com", "www.shop.example.com")
	certFile, keyFile := cert.Write(t, t.TempDir(), "shop")
	hc := "healthCheck: {enabled: true, path: /healthz, interval: 50ms, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1}"
	config := func(algorithm string) string {
		return fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ntls:\n  listen: 127.0.0.1:0\n  certificates:\n    - {certFile: %s, keyFile: %s}\n"+
			"pools:\n  web:\n    algorithm: %s\n    %s\n    servers:\n      - %s\n      - %s\n",
			certFile, keyFile, algorithm, hc, a.URL, b.URL)
	}
	r := startRun(t, config("round_robin"), RunOptions{Watch: true})
	adminURL := "http://" + r.g.AdminAddr() + "/"
	bURL := strings.ToLower(b.URL)

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 2*waitBound)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(adminURL)); err != nil {
		t.Fatalf("load %s: %v", adminURL, err)
	}
	// A page reload would lose this mark; the test checks it at the end.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	state := fmt.Sprintf(`(document.querySelector('[data-pool="web"] tr[data-backend="%s"] td.state') || {}).textContent || ""`, bURL)
	waitText(t, ctx, "b's state cell to show up", state, StateUp)
	colour := fmt.Sprintf(`getComputedStyle(document.querySelector('[data-pool="web"] tr[data-backend="%s"] td.state span')).color`, bURL)
	waitText(t, ctx, "b's state cell in green", colour, "rgb(26, 127, 55)")
	waitText(t, ctx, "the generation to show 1", `document.querySelector("#gen-number").textContent`, "1")
	t.Logf("dashboard live %v after the browser was asked to load it", time.Since(start).Round(time.Millisecond))
	waitText(t, ctx, "the certificate's names and expiry", `document.querySelector("#certs tr.cert td").textContent.slice(0, 38) + " " + document.querySelector("#certs tr.cert td:nth-child(3)").textContent.slice(0, 10)`,
		"shop.example.com, www.shop.example.com "+cert.Leaf.NotAfter.UTC().Format(time.DateOnly))

	b.health.Store(1)
	waitText(t, ctx, "b's state cell to turn down", state, StateDown)
	waitText(t, ctx, "b's state cell to turn red", colour, "rgb(180, 35, 24)")
	waitText(t, ctx, "b's reason", fmt.Sprintf(`document.querySelector('[data-pool="web"] tr[data-backend="%s"] td.reason').textContent`, bURL), "status 503")

	r.save(t, config("least_connections"), true)
	waitText(t, ctx, "the saved config as generation 2", `document.querySelector("#gen-number").textContent`, "2")
	waitText(t, ctx, "the pool's new algorithm", `document.querySelector('[data-pool="web"] .algorithm').textContent`, "least_connections")

	r.save(t, config("fastest"), true)
	rejected := `(document.querySelector("#reloads tr.reload") || {}).dataset.result || ""`
	waitText(t, ctx, "the rejected reload at the top of the reloads", rejected, ResultRejected)
	rec, _ := r.g.reloads.last(configSource)
	if rec.Result != ResultRejected || !strings.Contains(rec.Error, filepath.Base(r.path)+":") {
		t.Fatalf("last record %+v, want a rejection with the file's position", rec)
	}
	waitText(t, ctx, "the rejection's error", `document.querySelector("#reloads tr.reload .reload-error").textContent`, rec.Error)
	waitText(t, ctx, "the rejection's error in red", `getComputedStyle(document.querySelector("#reloads tr.reload .reload-error")).color`, "rgb(180, 35, 24)")
	waitText(t, ctx, "the generation that serves on", `document.querySelector("#gen-number").textContent`, "2")
	if marked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !marked {
		t.Fatalf("the page was reloaded (mark %v, error %v)", marked, err)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG: % x", png[:min(8, len(png))])
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes); whole test in the browser took %v", shot, len(png), time.Since(start).Round(time.Millisecond))
}
