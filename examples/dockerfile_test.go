package examples_test

import (
	"encoding/json"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
)

// instruction is one instruction of a Dockerfile, with continuation lines
// joined.
type instruction struct {
	line int
	cmd  string // upper case, such as "FROM"
	args string
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments
// and blank lines and joining lines that end in a backslash.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		body, more := strings.CutSuffix(trimmed, `\`)
		cur.WriteString(body)
		if more {
			cur.WriteString(" ")
			continue
		}
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// stage is one build stage of a Dockerfile: its FROM and what follows.
type stage struct {
	from  instruction
	name  string // the name after AS, if any
	steps []instruction
}

// stages groups instructions into build stages.
func stages(instructions []instruction) []stage {
	var out []stage
	for _, in := range instructions {
		if in.cmd == "FROM" {
			s := stage{from: in}
			if f := strings.Fields(in.args); len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			out = append(out, s)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].steps = append(out[len(out)-1].steps, in)
		}
	}
	return out
}

// find returns the stage's instructions of kind cmd.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.steps {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes the exec form ["a", "b"] of an ENTRYPOINT or CMD.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Errorf("Dockerfile line %d: %s %s is not in exec form [\"...\"]; in shell form a shell is process 1 and SIGTERM never reaches the gateway", in.line, in.cmd, in.args)
		return nil
	}
	return argv
}

// readDockerfile parses the Dockerfile at the repository root into build
// stages, or stops the test.
func readDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	s := stages(parseDockerfile(string(data)))
	if len(s) < 2 {
		t.Fatalf("Dockerfile has %d FROM lines, want a multi-stage build with 2: one to compile, one to ship", len(s))
	}
	return s
}

// TestDockerfile checks that the image is built in one stage and shipped
// from another holding only the static binary and the default config, run
// as a non-root user.
func TestDockerfile(t *testing.T) {
	all := readDockerfile(t)
	build, final := all[0], all[len(all)-1]

	static := false
	for _, in := range build.find("RUN") {
		static = static || strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build")
	}
	for _, in := range build.find("ENV") {
		static = static || strings.Contains(in.args, "CGO_ENABLED=0")
	}
	if !static {
		t.Errorf("build stage %q does not build with CGO_ENABLED=0; the binary would need a C library the final image lacks", build.from.args)
	}

	binary := ""
	hasConfig := false
	for _, in := range final.find("COPY") {
		f := strings.Fields(in.args)
		switch {
		case build.name != "" && len(f) == 3 && f[0] == "--from="+build.name:
			binary = f[2]
		case len(f) == 2 && f[0] == "examples/gateway.yaml" && f[1] == "/etc/gateway/gateway.yaml":
			hasConfig = true
		}
	}
	if binary == "" {
		t.Errorf("final stage copies no binary from the build stage (COPY --from=%s SRC DEST)", build.name)
	}
	if !hasConfig {
		t.Error("final stage does not COPY examples/gateway.yaml /etc/gateway/gateway.yaml")
	}

	users := final.find("USER")
	if len(users) == 0 {
		t.Error("final stage sets no USER; the gateway would run as root")
	} else {
		last := users[len(users)-1]
		if user, _, _ := strings.Cut(last.args, ":"); user == "root" || user == "0" {
			t.Errorf("Dockerfile line %d: USER %s runs the gateway as root", last.line, last.args)
		}
	}

	var argv []string
	for _, cmd := range []string{"ENTRYPOINT", "CMD"} {
		if ins := final.find(cmd); len(ins) > 0 {
			argv = append(argv, execForm(t, ins[len(ins)-1])...)
		}
	}
	if want := []string{binary, "run", "--config", "/etc/gateway/gateway.yaml"}; binary != "" && !slices.Equal(argv, want) {
		t.Errorf("ENTRYPOINT and CMD run %q, want %q", argv, want)
	}

	var exposed []string
	for _, in := range final.find("EXPOSE") {
		exposed = append(exposed, strings.Fields(in.args)...)
	}
	for _, want := range exposedPorts(t) {
		if !slices.Contains(exposed, want) && !slices.Contains(exposed, want+"/tcp") {
			t.Errorf("EXPOSE lists %v, want port %s, where examples/gateway.yaml listens", exposed, want)
		}
	}
}

// exposedPorts returns the ports the image's default config listens on:
// the public and the admin listener's.
func exposedPorts(t *testing.T) []string {
	t.Helper()
	c := load(t, "gateway.yaml")
	_, listen := splitAddr(t, "listen", c.Listen)
	_, admin := splitAddr(t, "admin", c.Admin)
	if listen != "8080" || admin != "9901" {
		t.Errorf("examples/gateway.yaml listens on %s and %s, want 8080 and 9901", listen, admin)
	}
	return []string{listen, admin}
}

// TestDockerignore checks that the build context keeps the files the
// build needs.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, file := range []string{"go.mod", "go.sum", "main.go", "gateway/gateway.go", "gateway/dashboard/index.html", "gateway/config/config.go", "health/status.go", "reload/watcher.go", "examples/gateway.yaml", "examples/demo.yaml"} {
		if p := excludedBy(patterns, file); p != "" {
			t.Errorf(".dockerignore pattern %q leaves %s out of the build context", p, file)
		}
	}
}

// excludedBy returns the .dockerignore pattern that leaves file out of the
// build context, or "" when file is kept. As in Docker, the last pattern
// that matches the file or a folder holding it decides, and a pattern
// starting with "!" keeps what it matches.
func excludedBy(patterns []string, file string) string {
	parts := strings.Split(file, "/")
	decider := ""
	for _, p := range patterns {
		keep := strings.HasPrefix(p, "!")
		glob := strings.Trim(strings.TrimPrefix(p, "!"), "/")
		if matchesPathOrParent(glob, parts) {
			decider = p
			if keep {
				decider = ""
			}
		}
	}
	return decider
}

// matchesPathOrParent reports whether glob, which may start with "**/",
// matches the path made of parts or one of the folders holding it.
func matchesPathOrParent(glob string, parts []string) bool {
	anyDepth := false
	if rest, ok := strings.CutPrefix(glob, "**/"); ok {
		glob, anyDepth = rest, true
	}
	for end := 1; end <= len(parts); end++ {
		for start := 0; start < end; start++ {
			if start > 0 && !anyDepth {
				break
			}
			if ok, _ := path.Match(glob, strings.Join(parts[start:end], "/")); ok {
				return true
			}
		}
	}
	return false
}
