// Package kubernetes_test checks the Kubernetes manifests of this folder.
// Each one is decoded strictly into the Kubernetes API type of its kind,
// so that a field Kubernetes would reject (a typo such as livenesProbe, a
// value of the wrong type, a key given twice) fails the test, and the
// checks then look at what wires the manifests together: labels, ports,
// probes, the config mount, and the name of the headless Service that the
// gateway's config resolves.
//
// The folder is a Go module of its own, so that the gateway's module does
// not depend on the Kubernetes API modules.
package kubernetes_test

import (
	"cmp"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// kustomization holds the fields of a kustomization.yaml that this
// folder's uses. It is decoded strictly too: a field the kustomization
// gains must be added here.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
}

// manifests holds the decoded manifests of the folder.
type manifests struct {
	configMap  corev1.ConfigMap
	deployment appsv1.Deployment // the gateway
	service    corev1.Service    // the gateway's
	app        appsv1.Deployment // the sample application
	appService corev1.Service    // its headless Service
	kustomize  kustomization
}

// decodeStrictly decodes the manifest file into obj, failing on any field
// obj's type does not have, and checks its apiVersion and kind.
func decodeStrictly(file string, obj runtime.Object, apiVersion, kind string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return err
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if got := gvk.GroupVersion().String(); got != apiVersion || gvk.Kind != kind {
		return &kindError{file, got + " " + gvk.Kind, apiVersion + " " + kind}
	}
	return nil
}

// kindError says that a manifest holds another kind than expected.
type kindError struct{ file, got, want string }

func (e *kindError) Error() string { return e.file + " holds " + e.got + ", want " + e.want }

// loadManifests decodes every manifest, or stops the test.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	for _, d := range []struct {
		file, apiVersion, kind string
		obj                    runtime.Object
	}{
		{"configmap.yaml", "v1", "ConfigMap", &m.configMap},
		{"deployment.yaml", "apps/v1", "Deployment", &m.deployment},
		{"service.yaml", "v1", "Service", &m.service},
		{"app-deployment.yaml", "apps/v1", "Deployment", &m.app},
		{"app-service.yaml", "v1", "Service", &m.appService},
	} {
		if err := decodeStrictly(d.file, d.obj, d.apiVersion, d.kind); err != nil {
			t.Fatalf("decode %s as a Kubernetes %s: %v", d.file, d.kind, err)
		}
	}
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &m.kustomize); err != nil {
		t.Fatalf("decode kustomization.yaml: %v", err)
	}
	for _, d := range []*appsv1.Deployment{&m.deployment, &m.app} {
		if n := len(d.Spec.Template.Spec.Containers); n != 1 {
			t.Fatalf("deployment %s has %d containers, want 1", d.Name, n)
		}
	}
	return &m
}

// gatewayContainer returns the gateway Deployment's only container.
func (m *manifests) gatewayContainer() *corev1.Container {
	return &m.deployment.Spec.Template.Spec.Containers[0]
}

// containerPort returns the number of the port of c that target names, by
// name or by number, or 0 when c has none.
func containerPort(c *corev1.Container, target intstr.IntOrString) int32 {
	for _, p := range c.Ports {
		if target.Type == intstr.String && p.Name == target.StrVal || target.Type == intstr.Int && p.ContainerPort == target.IntVal {
			return p.ContainerPort
		}
	}
	return 0
}

// configArg returns the value of the container's --config flag.
func configArg(c *corev1.Container) (string, bool) {
	for i, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v, true
		}
		if a == "--config" && i+1 < len(c.Args) {
			return c.Args[i+1], true
		}
	}
	return "", false
}

// gatewayConfig decodes the gateway config the ConfigMap holds under the
// file name the container's --config flag names, or stops the test.
func (m *manifests) gatewayConfig(t *testing.T) *config.Config {
	t.Helper()
	file, ok := configArg(m.gatewayContainer())
	if !ok {
		t.Fatalf("container args %q have no --config flag", m.gatewayContainer().Args)
	}
	key := path.Base(file)
	data, ok := m.configMap.Data[key]
	if !ok {
		t.Fatalf("configmap %s has no key %q for --config %s; keys are %v", m.configMap.Name, key, file, slices.Sorted(maps.Keys(m.configMap.Data)))
	}
	c, err := config.Decode("configmap.yaml:"+key, []byte(data))
	if err != nil {
		t.Fatalf("the config in configmap %s key %s does not decode: %v", m.configMap.Name, key, err)
	}
	return c
}

// TestManifestsAreStrict checks that the decoding would catch a field
// Kubernetes rejects: the deployment with a misspelt probe fails.
func TestManifestsAreStrict(t *testing.T) {
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(t.TempDir(), "deployment.yaml")
	os.WriteFile(typo, []byte(strings.Replace(string(data), "livenessProbe:", "livenesProbe:", 1)), 0o644)
	err = decodeStrictly(typo, &appsv1.Deployment{}, "apps/v1", "Deployment")
	if err == nil || !strings.Contains(err.Error(), "livenesProbe") {
		t.Fatalf("decoding a deployment with livenesProbe: %v, want an error naming the field", err)
	}
	loadManifests(t)
}

// TestKubernetesLabels checks that each Deployment's selector picks its
// own pods and that each Service selects the pods of its Deployment.
func TestKubernetesLabels(t *testing.T) {
	m := loadManifests(t)
	for _, w := range []struct {
		d    *appsv1.Deployment
		svc  *corev1.Service
		name string
	}{
		{&m.deployment, &m.service, "gateway"},
		{&m.app, &m.appService, "app"},
	} {
		if w.d.Spec.Selector == nil || len(w.d.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("deployment %s has no selector matchLabels", w.d.Name)
			continue
		}
		selector := w.d.Spec.Selector.MatchLabels
		if pod := w.d.Spec.Template.Labels; !maps.Equal(selector, pod) {
			t.Errorf("deployment %s selector %v differs from its pod template labels %v; the Deployment would not own its pods", w.d.Name, selector, pod)
		}
		if svc := w.svc.Spec.Selector; !maps.Equal(selector, svc) {
			t.Errorf("service %s selector %v differs from deployment %s's %v; the Service would not reach its pods", w.svc.Name, svc, w.d.Name, selector)
		}
		if got := selector["app.kubernetes.io/name"]; got != w.name {
			t.Errorf("deployment %s selects app.kubernetes.io/name=%q, want %q", w.d.Name, got, w.name)
		}
	}
}

// TestKubernetesPorts checks that the gateway's Service and probes name
// ports its container declares, and that its config listens on them.
func TestKubernetesPorts(t *testing.T) {
	m := loadManifests(t)
	c := m.gatewayContainer()
	if len(m.service.Spec.Ports) == 0 {
		t.Error("service has no ports")
	}
	for _, p := range m.service.Spec.Ports {
		if containerPort(c, p.TargetPort) == 0 {
			t.Errorf("service port %d has targetPort %s, which names no container port", p.Port, p.TargetPort.String())
		}
	}
	admin := containerPort(c, intstr.FromString("admin"))
	public := containerPort(c, intstr.FromString("http"))
	if admin == 0 || public == 0 {
		t.Fatalf("container ports %+v, want ports named admin and http", c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("container has no %s.httpGet", p.name)
			continue
		}
		if got := p.probe.HTTPGet.Port; got != intstr.FromString("admin") {
			t.Errorf("%s port = %s, want the container port named admin", p.name, got.String())
		}
		if got := p.probe.HTTPGet.Path; got != p.path {
			t.Errorf("%s path = %q, want %q", p.name, got, p.path)
		}
	}

	cfg := m.gatewayConfig(t)
	adminAddr, err := netip.ParseAddrPort(cfg.Admin)
	if err != nil || adminAddr.Port() != uint16(admin) || !adminAddr.Addr().IsUnspecified() {
		t.Errorf("config admin %q, want port %d on every interface (0.0.0.0), so that the kubelet's probes of the pod's address reach it", cfg.Admin, admin)
	}
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil || port != strconv.Itoa(int(public)) {
		t.Errorf("config listen %q is not on the http container port %d", cfg.Listen, public)
	}
}

// TestKubernetesConfigMount checks that the ConfigMap is mounted as a
// directory, which the kubelet updates in place, and that --config names
// a file in it.
func TestKubernetesConfigMount(t *testing.T) {
	m := loadManifests(t)
	c := m.gatewayContainer()
	volume := ""
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Name {
			volume = v.Name
		}
	}
	if volume == "" {
		t.Fatalf("no volume refers to configmap %q", m.configMap.Name)
	}
	mountPath := ""
	for _, vm := range c.VolumeMounts {
		if vm.Name != volume {
			continue
		}
		if vm.SubPath != "" {
			t.Errorf("volume %s is mounted with subPath %q; subPath mounts never see ConfigMap updates, so mount the whole directory", volume, vm.SubPath)
		}
		mountPath = vm.MountPath
	}
	if mountPath != "/etc/gateway" {
		t.Fatalf("volume %s is mounted at %q, want /etc/gateway", volume, mountPath)
	}
	if want := []string{"run", "--config", "/etc/gateway/gateway.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("container args = %q, want %q", c.Args, want)
	}
	if file, _ := configArg(c); path.Dir(file) != mountPath {
		t.Errorf("--config %s is not a file directly inside the mount %s", file, mountPath)
	}
	m.gatewayConfig(t)
}

// TestKubernetesLifecycle checks replicas, graceful shutdown, resources
// and the containers' security settings.
func TestKubernetesLifecycle(t *testing.T) {
	m := loadManifests(t)
	if r := m.deployment.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("gateway replicas = %v, want 2", r)
	}
	cfg := m.gatewayConfig(t)
	if g := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("gateway terminationGracePeriodSeconds = %v, want more than the config's shutdownTimeout %v, or the kubelet kills the gateway while it drains", g, cfg.ShutdownTimeout)
	}
	for _, d := range []*appsv1.Deployment{&m.deployment, &m.app} {
		c := d.Spec.Template.Spec.Containers[0]
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("deployment %s sets no %s request", d.Name, r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Errorf("deployment %s sets no memory limit", d.Name)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("deployment %s container securityContext %+v, want a read-only root, no privilege escalation and every capability dropped", d.Name, sc)
		}
		if psc := d.Spec.Template.Spec.SecurityContext; (sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) &&
			(psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot) {
			t.Errorf("deployment %s may run as root", d.Name)
		}
	}
}

// TestKubernetesResolvedServers checks that every resolved server of the
// gateway's config names a headless Service of the manifests by its full
// name, NAME.NAMESPACE.svc.cluster.local, on a port of that Service whose
// target is the same port of the pods: the gateway connects to the pods'
// addresses, with no kube-proxy in between. The pods must be probed for
// readiness, which decides when they are in the DNS answer, and must go
// on serving a while after they are told to stop.
func TestKubernetesResolvedServers(t *testing.T) {
	m := loadManifests(t)
	services := map[string]*corev1.Service{m.service.Name: &m.service, m.appService.Name: &m.appService}
	resolved := 0
	for _, p := range m.gatewayConfig(t).Pools {
		for _, s := range p.Servers {
			if !s.Resolve {
				continue
			}
			resolved++
			checkResolvedServer(t, m, services, s.URL)
		}
	}
	if resolved == 0 {
		t.Fatal("the gateway's config resolves no server; it should balance over the pods of the headless Service")
	}

	pod := m.app.Spec.Template.Spec
	c := pod.Containers[0]
	if c.ReadinessProbe == nil {
		t.Error("the application has no readiness probe; a pod would be in the DNS answer before it can serve")
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("the application has no preStop sleep; a pod would stop while the gateway still has its address")
	}
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if sleep < 30*time.Second+m.gatewayConfig(t).DNS.Refresh {
		t.Errorf("preStop sleep %v, want at least the cluster DNS's TTL (30s) and the gateway's refresh", sleep)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= sleep {
		t.Errorf("application terminationGracePeriodSeconds %v, want more than its preStop sleep %v", g, sleep)
	}
}

// checkResolvedServer checks the resolved server at u against the
// headless Service its name names.
func checkResolvedServer(t *testing.T, m *manifests, services map[string]*corev1.Service, u *url.URL) {
	t.Helper()
	namespace := cmp.Or(m.kustomize.Namespace, "default")
	name, ok := strings.CutSuffix(u.Hostname(), "."+namespace+".svc.cluster.local")
	svc := services[name]
	if !ok || svc == nil {
		t.Errorf("resolved server %s names no Service of the manifests as NAME.%s.svc.cluster.local", u, namespace)
		return
	}
	if svc.Namespace != "" && svc.Namespace != namespace {
		t.Errorf("service %s is in namespace %s, but the config names it in %s", svc.Name, svc.Namespace, namespace)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service %s has clusterIP %q; it must be headless (None), or its name resolves to one virtual IP", svc.Name, svc.Spec.ClusterIP)
	}
	port, _ := strconv.Atoi(u.Port())
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if int(svc.Spec.Ports[i].Port) == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		t.Errorf("resolved server %s: service %s has no port %d", u, svc.Name, port)
		return
	}
	if !maps.Equal(svc.Spec.Selector, m.app.Spec.Template.Labels) {
		t.Errorf("service %s selects %v, not the application's pods %v", svc.Name, svc.Spec.Selector, m.app.Spec.Template.Labels)
	}
	if target := containerPort(&m.app.Spec.Template.Spec.Containers[0], sp.TargetPort); int(target) != port {
		t.Errorf("service %s port %d targets container port %d; with no virtual IP the gateway connects to port %d of the pods", svc.Name, port, target, port)
	}
}

// TestKustomization checks that the kustomization lists every manifest
// of the folder exactly once.
func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	if m.kustomize.APIVersion != "kustomize.config.k8s.io/v1beta1" || m.kustomize.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", m.kustomize.APIVersion, m.kustomize.Kind)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	if got := slices.Sorted(slices.Values(m.kustomize.Resources)); !slices.Equal(got, files) {
		t.Errorf("kustomization resources = %v, want every manifest once: %v", m.kustomize.Resources, files)
	}
}

// TestKubernetesTLS checks the wiring of the HTTPS listener: the config
// listens on the container port https, which the Service's port 443
// reaches, and every certificate and key it names is a key of a
// kubernetes.io/tls Secret (tls.crt, tls.key) mounted as a directory,
// never with subPath, which would never see a renewal.
func TestKubernetesTLS(t *testing.T) {
	m := loadManifests(t)
	c := m.gatewayContainer()
	cfg := m.gatewayConfig(t)
	if cfg.TLS == nil {
		t.Fatal("the config has no tls")
	}
	httpsPort := containerPort(c, intstr.FromString("https"))
	if _, port, err := net.SplitHostPort(cfg.TLS.Listen); err != nil || httpsPort == 0 || port != strconv.Itoa(int(httpsPort)) {
		t.Errorf("config tls.listen %q is not on the https container port %d", cfg.TLS.Listen, httpsPort)
	}
	served := false
	for _, p := range m.service.Spec.Ports {
		served = served || p.Port == 443 && p.TargetPort == intstr.FromString("https")
	}
	if !served {
		t.Errorf("service ports %+v: none is 443 to the container port https", m.service.Spec.Ports)
	}

	secrets := map[string]string{} // volume name to secret name
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secrets[v.Name] = v.Secret.SecretName
		}
	}
	mounts := map[string]string{} // mount path to secret name
	for _, vm := range c.VolumeMounts {
		secret, ok := secrets[vm.Name]
		if !ok {
			continue
		}
		if vm.SubPath != "" {
			t.Errorf("secret volume %s is mounted with subPath %q; subPath mounts never see a renewed certificate", vm.Name, vm.SubPath)
		}
		mounts[vm.MountPath] = secret
	}
	if len(cfg.TLS.Certificates) == 0 {
		t.Fatal("tls names no certificate")
	}
	for i, cert := range cfg.TLS.Certificates {
		for _, f := range []struct{ path, key string }{{cert.CertFile, "tls.crt"}, {cert.KeyFile, "tls.key"}} {
			secret, ok := mounts[path.Dir(f.path)]
			if !ok || path.Base(f.path) != f.key {
				t.Errorf("tls.certificates[%d] names %s, which is not the key %s of a mounted Secret (mounts: %v)", i, f.path, f.key, mounts)
			}
			if ok && secret != "gateway-tls" {
				t.Errorf("%s comes from secret %q, want gateway-tls, the name README tells to create", f.path, secret)
			}
		}
	}
}
