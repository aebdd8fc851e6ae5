package examples_test

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"go.yaml.in/yaml/v3"
)

// The parts of the Kubernetes objects the manifests' wiring depends on.
// Fields the tests do not read are left out and ignored when decoding.
type (
	objectMeta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}

	configMap struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   objectMeta        `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
	}

	service struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}

	deployment struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			Replicas *int `yaml:"replicas"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}

	podSpec struct {
		TerminationGracePeriodSeconds *int64      `yaml:"terminationGracePeriodSeconds"`
		Containers                    []container `yaml:"containers"`
		Volumes                       []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	}

	container struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext struct {
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}

	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}

	kustomization struct {
		Resources []string `yaml:"resources"`
	}
)

// manifestDir is where the Kubernetes manifests live.
const manifestDir = "kubernetes"

// decodeManifest decodes the manifest file into out, or stops the test.
func decodeManifest(t *testing.T, file string, out any) {
	t.Helper()
	name := filepath.Join(manifestDir, file)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("decode manifest %s: %v", name, err)
	}
}

// manifests holds the decoded manifests.
type manifests struct {
	configMap  configMap
	deployment deployment
	service    service
}

// loadManifests decodes every manifest and checks each one's kind, or
// stops the test.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	decodeManifest(t, "configmap.yaml", &m.configMap)
	decodeManifest(t, "deployment.yaml", &m.deployment)
	decodeManifest(t, "service.yaml", &m.service)
	for _, k := range []struct{ file, apiVersion, kind, wantAPIVersion, wantKind string }{
		{"configmap.yaml", m.configMap.APIVersion, m.configMap.Kind, "v1", "ConfigMap"},
		{"deployment.yaml", m.deployment.APIVersion, m.deployment.Kind, "apps/v1", "Deployment"},
		{"service.yaml", m.service.APIVersion, m.service.Kind, "v1", "Service"},
	} {
		if k.apiVersion != k.wantAPIVersion || k.kind != k.wantKind {
			t.Fatalf("%s holds %s %s, want %s %s", k.file, k.apiVersion, k.kind, k.wantAPIVersion, k.wantKind)
		}
	}
	if n := len(m.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("deployment has %d containers, want 1", n)
	}
	return &m
}

// gatewayContainer returns the Deployment's only container.
func (m *manifests) gatewayContainer() *container {
	return &m.deployment.Spec.Template.Spec.Containers[0]
}

// containerPort returns the number of the container port called name, or
// 0 when there is none.
func (c *container) containerPort(name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// configArg returns the value of the container's --config flag.
func (c *container) configArg() (string, bool) {
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

// embeddedConfig decodes the gateway config the ConfigMap holds under the
// file name the container's --config flag names, or stops the test.
func (m *manifests) embeddedConfig(t *testing.T) *config.Config {
	t.Helper()
	file, ok := m.gatewayContainer().configArg()
	if !ok {
		t.Fatalf("container args %q have no --config flag", m.gatewayContainer().Args)
	}
	key := path.Base(file)
	data, ok := m.configMap.Data[key]
	if !ok {
		t.Fatalf("configmap %s has no key %q for --config %s; keys are %v", m.configMap.Metadata.Name, key, file, slices.Sorted(maps.Keys(m.configMap.Data)))
	}
	c, err := config.Decode(filepath.Join(manifestDir, "configmap.yaml")+":"+key, []byte(data))
	if err != nil {
		t.Fatalf("the config in configmap %s key %s does not decode: %v", m.configMap.Metadata.Name, key, err)
	}
	return c
}

// TestKubernetesLabels checks that the Deployment's selector picks its
// own pods and that the Service selects the same pods.
func TestKubernetesLabels(t *testing.T) {
	m := loadManifests(t)
	selector := m.deployment.Spec.Selector.MatchLabels
	if len(selector) == 0 {
		t.Fatal("deployment selector matchLabels is empty")
	}
	if pod := m.deployment.Spec.Template.Metadata.Labels; !maps.Equal(selector, pod) {
		t.Errorf("deployment selector %v differs from its pod template labels %v; the Deployment would not own its pods", selector, pod)
	}
	if svc := m.service.Spec.Selector; !maps.Equal(selector, svc) {
		t.Errorf("service selector %v differs from the deployment selector %v; the Service would not reach the gateway pods", svc, selector)
	}
	if got := selector["app.kubernetes.io/name"]; got != "gateway" {
		t.Errorf("selector label app.kubernetes.io/name = %q, want %q", got, "gateway")
	}
}

// TestKubernetesPorts checks that the Service and the probes name ports
// the container declares, and that the gateway config listens on them.
func TestKubernetesPorts(t *testing.T) {
	m := loadManifests(t)
	c := m.gatewayContainer()

	if len(m.service.Spec.Ports) == 0 {
		t.Error("service has no ports")
	}
	for _, p := range m.service.Spec.Ports {
		if c.containerPort(p.TargetPort) == 0 {
			t.Errorf("service port %d has targetPort %q, which names no container port", p.Port, p.TargetPort)
		}
	}

	adminPort := c.containerPort("admin")
	if adminPort == 0 {
		t.Fatal("container has no port named admin")
	}
	httpPort := c.containerPort("http")
	if httpPort == 0 {
		t.Fatal("container has no port named http")
	}
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("container has no %s.httpGet", p.name)
			continue
		}
		if got := p.probe.HTTPGet.Port; got != "admin" {
			t.Errorf("%s port = %q, want the container port named admin", p.name, got)
		}
		if got := p.probe.HTTPGet.Path; got != p.path {
			t.Errorf("%s path = %q, want %q", p.name, got, p.path)
		}
	}

	cfg := m.embeddedConfig(t)
	host, port := splitAddr(t, "admin", cfg.Admin)
	if port != strconv.Itoa(adminPort) {
		t.Errorf("config admin %q is not on the admin container port %d", cfg.Admin, adminPort)
	}
	if !isUnspecified(host) {
		t.Errorf("config admin %q binds %q only; it must bind 0.0.0.0 so the kubelet's probes reach it", cfg.Admin, host)
	}
	if _, port := splitAddr(t, "listen", cfg.Listen); port != strconv.Itoa(httpPort) {
		t.Errorf("config listen %q is not on the http container port %d", cfg.Listen, httpPort)
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
		if v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Metadata.Name {
			volume = v.Name
		}
	}
	if volume == "" {
		t.Fatalf("no volume refers to configmap %q", m.configMap.Metadata.Name)
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

	file, ok := c.configArg()
	if !ok {
		t.Fatalf("container args %q have no --config flag", c.Args)
	}
	if path.Dir(file) != mountPath {
		t.Errorf("--config %s is not a file directly inside the mount %s", file, mountPath)
	}
	if _, ok := m.configMap.Data[path.Base(file)]; !ok {
		t.Errorf("--config %s names no key of configmap %s", file, m.configMap.Metadata.Name)
	}
	if want := []string{"run", "--config", "/etc/gateway/gateway.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("container args = %q, want %q", c.Args, want)
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
	cfg := m.embeddedConfig(t)
	if cfg.TLS == nil {
		t.Fatal("the config has no tls")
	}
	httpsPort := c.containerPort("https")
	if _, port := splitAddr(t, "tls.listen", cfg.TLS.Listen); httpsPort == 0 || port != strconv.Itoa(httpsPort) {
		t.Errorf("config tls.listen %q is not on the https container port %d", cfg.TLS.Listen, httpsPort)
	}
	served := false
	for _, p := range m.service.Spec.Ports {
		served = served || p.Port == 443 && p.TargetPort == "https"
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

// TestKubernetesLifecycle checks replicas, graceful shutdown, resources and
// the container's security settings.
func TestKubernetesLifecycle(t *testing.T) {
	m := loadManifests(t)
	c := m.gatewayContainer()
	pod := m.deployment.Spec.Template.Spec

	if r := m.deployment.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("deployment replicas = %v, want 2", deref(r))
	}

	cfg := m.embeddedConfig(t)
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than the config's shutdownTimeout %v, or the kubelet kills the gateway while it drains", deref(g), cfg.ShutdownTimeout)
	}

	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("container sets no %s request", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("container sets no memory limit")
	}

	sc := c.SecurityContext
	for _, f := range []struct {
		name string
		got  *bool
		want bool
	}{
		{"runAsNonRoot", sc.RunAsNonRoot, true},
		{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem, true},
		{"allowPrivilegeEscalation", sc.AllowPrivilegeEscalation, false},
	} {
		if f.got == nil || *f.got != f.want {
			t.Errorf("container securityContext.%s = %v, want %v", f.name, deref(f.got), f.want)
		}
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext.capabilities.drop = %q, want it to hold ALL", sc.Capabilities.Drop)
	}
}

// TestKustomization checks that the kustomization lists every manifest in
// its folder exactly once.
func TestKustomization(t *testing.T) {
	var k kustomization
	decodeManifest(t, "kustomization.yaml", &k)
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatalf("list manifests: %v", err)
	}
	var want []string
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" {
			want = append(want, name)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want every manifest once: %v", k.Resources, want)
	}
}

// deref returns what p points to, or nil, for messages.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
