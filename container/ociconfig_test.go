package container

import (
	"encoding/json"
	"strings"
	"testing"
)

const minimalOCIConfig = `{"ociVersion":"1.0.2","root":{"path":"rootfs"},
"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
"linux":{"namespaces":[{"type":"mount"},{"type":"pid"}]}}`

func TestParseOCIConfig(t *testing.T) {
	if _, err := ParseOCIConfig([]byte(minimalOCIConfig)); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	bad := map[string]string{
		`{"ociVersion":`:  "incomplete JSON",
		`{"ociVersion":]`: "syntax error",
		strings.Replace(minimalOCIConfig, `"args":["sh"]`, `"args":"sh"`, 1):                                 "process.args",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"rel"`, 1):                                     "process.cwd",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"/","rlimits":[{"type":"RLIMIT_TEST"}]`, 1):    "process.rlimits[0].type",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"/","capabilities":{"bounding":["CAP_X"]}`, 1): "process.capabilities.bounding[0]",
		strings.Replace(minimalOCIConfig, `"type":"pid"`, `"type":"pid","path":"/proc/1/ns/pid"`, 1):         "linux.namespaces[1]",
		minimalOCIConfig + "{}": "more than one JSON value",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"uidMappings":[{"containerID":0,"hostID":4294967295,"size":4294967295}],"namespaces"`, 1):                    "linux.uidMappings[0]: hostID 4294967295 + size 4294967295 runs past the last id",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"gidMappings":[{"containerID":2,"hostID":0,"size":4294967295}],"namespaces"`, 1):                             "linux.gidMappings[0]: containerID 2",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"uidMappings":[{"containerID":0,"hostID":0,"size":0}],"namespaces"`, 1):                                      "linux.uidMappings[0]: size is 0",
		strings.Replace(minimalOCIConfig, `"root":{"path":"rootfs"},`, `"root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"bind","source":"/tmp"}],`, 1): "mounts[0]: mount at /proc is a bind of /tmp",
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"pid"},{"type":"pid"},{"type":"pid"}`, 1):                                                          "linux.namespaces[2]: the pid namespace is listed twice (also at [1])",
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"user"},{"type":"pid"},{"type":"user"}`, 1):                                                        "the user namespace is listed twice",
	}
	for in, want := range bad {
		_, err := ParseOCIConfig([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOCIConfig(%.60q…) = %v, want an error naming %q", in, err, want)
		}
	}
}

// FuzzParseOCIConfig: any input gives a spec or an error, never a panic;
// an accepted config survives a JSON round trip and is accepted again.
// The seeds (testdata/fuzz/FuzzParseOCIConfig) run with every go test.
func FuzzParseOCIConfig(f *testing.F) {
	f.Add([]byte(minimalOCIConfig))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := ParseOCIConfig(b)
		if err != nil {
			if spec != nil {
				t.Fatal("a spec returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "config.json") {
				t.Fatalf("error does not say it is about config.json: %v", err)
			}
			return
		}
		again, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
		if _, err := ParseOCIConfig(again); err != nil {
			t.Fatalf("accepted config refused after a round trip: %v", err)
		}
	})
}
