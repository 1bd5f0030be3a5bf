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
		strings.Replace(minimalOCIConfig, `"args":["sh"]`, `"args":"sh"`, 1):                                              "process.args",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"rel"`, 1):                                                  "process.cwd",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"/","rlimits":[{"type":"RLIMIT_TEST"}]`, 1):                 "process.rlimits[0].type",
		strings.Replace(minimalOCIConfig, `"cwd":"/"`, `"cwd":"/","capabilities":{"bounding":["CAP_X"]}`, 1):              "process.capabilities.bounding[0]",
		strings.Replace(minimalOCIConfig, `"type":"mount"`, `"type":"mount","path":"/proc/1/ns/mnt"`, 1):                  "linux.namespaces[0]: joining a mount namespace by path (/proc/1/ns/mnt) is not supported: urun builds",
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"pid"},{"type":"user","path":"/proc/1/ns/user"}`, 1): "linux.namespaces[2]: joining a user namespace by path (/proc/1/ns/user) is not supported: entering a user namespace needs a single-threaded process",
		strings.Replace(minimalOCIConfig, `"root":`, `"hostname":"h","root":`, 1):                                         `hostname "h": unable to set hostname without a private UTS namespace`,
		strings.Replace(minimalOCIConfig, `"root":`, `"domainname":"d","root":`, 1):                                       `domainname "d": unable to set domainname without a private UTS namespace`,
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"sysctl":{"net.ipv4.ip_forward":"1"},"namespaces"`, 1):         `linux.sysctl "net.ipv4.ip_forward": sysctl is not allowed in the host's network namespace`,
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"sysctl":{"kernel.shmmax":"1"},"namespaces"`, 1):               `linux.sysctl "kernel.shmmax": sysctl is not allowed in the host's ipc namespace`,
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"sysctl":{"vm.swappiness":"1"},"namespaces"`, 1):               `linux.sysctl "vm.swappiness": sysctl is not in a separate kernel namespace`,
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"sysctl":{"kernel.hostname":"x"},"namespaces"`, 1):             `linux.sysctl "kernel.hostname": sysctl is not allowed: set hostname`,
		minimalOCIConfig + "{}": "more than one JSON value",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"uidMappings":[{"containerID":0,"hostID":4294967295,"size":4294967295}],"namespaces"`, 1):                    "linux.uidMappings[0]: hostID 4294967295 + size 4294967295 runs past the last id",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"gidMappings":[{"containerID":2,"hostID":0,"size":4294967295}],"namespaces"`, 1):                             "linux.gidMappings[0]: containerID 2",
		strings.Replace(minimalOCIConfig, `"namespaces"`, `"uidMappings":[{"containerID":0,"hostID":0,"size":0}],"namespaces"`, 1):                                      "linux.uidMappings[0]: size is 0",
		strings.Replace(minimalOCIConfig, `"root":{"path":"rootfs"},`, `"root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"bind","source":"/tmp"}],`, 1): "mounts[0]: mount at /proc is a bind of /tmp",
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"pid"},{"type":"pid"},{"type":"pid"}`, 1):                                                          "linux.namespaces[2]: the pid namespace is listed twice (also at [1])",
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"user"},{"type":"pid"},{"type":"user"}`, 1):                                                        "the user namespace is listed twice",
	}
	good := []string{
		strings.Replace(minimalOCIConfig, `"type":"pid"`, `"type":"pid","path":"/proc/1/ns/pid"`, 1),
		strings.Replace(minimalOCIConfig, `{"type":"pid"}`, `{"type":"pid"},{"type":"cgroup","path":"/proc/1/ns/cgroup"},{"type":"network","path":"/proc/1/ns/net"}`, 1),
		strings.Replace(strings.Replace(minimalOCIConfig, `"root":`, `"hostname":"h","domainname":"d","root":`, 1), `{"type":"pid"}`, `{"type":"pid"},{"type":"uts"}`, 1),
		strings.Replace(minimalOCIConfig, `"namespaces":[{"type":"mount"},{"type":"pid"}]`, `"namespaces":[{"type":"mount"},{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"}],`+
			`"sysctl":{"net.ipv4.ip_forward":"1","kernel.shmmax":"1","fs.mqueue.msg_max":"9","kernel.domainname":"d"}`, 1),
	}
	for _, in := range good {
		if _, err := ParseOCIConfig([]byte(in)); err != nil {
			t.Errorf("ParseOCIConfig(%s) = %v, want it accepted", in, err)
		}
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
