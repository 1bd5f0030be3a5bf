package engine

import (
	"fmt"
	"os"
	"strings"
)

// SystemdUnit is a systemd user unit that starts container ref at login
// (or at boot, with lingering) and stops it with the unit, as podman's
// `generate systemd`: the record holds everything, so the unit only
// calls `urun start` and `urun stop` on the container's id.
func SystemdUnit(root, ref, urun string, stopTimeout uint) (name, unit string, err error) {
	id, st, err := Find(root, ref)
	if err != nil {
		return "", "", err
	}
	if st.Record == "" {
		return "", "", fmt.Errorf("container %s has no record to start from: generate systemd works for containers made with create or run -d", ref)
	}
	var env strings.Builder
	// The unit's cgroup holds its supervisor, and stopping the unit ends
	// what is left in it: a container here gets a supervisor of its own,
	// never the shared one (engine/shared.go), which may serve others.
	fmt.Fprintf(&env, "Environment=%s=own\n", SupervisorEnv)
	if d := os.Getenv(DataDirEnv); d != "" {
		fmt.Fprintf(&env, "Environment=%s=%s\n", DataDirEnv, systemdQuote(d))
	}
	name = "container-" + st.Name + ".service"
	unit = fmt.Sprintf(`# %s: made by urun generate systemd; install it in ~/.config/systemd/user/
# and run 'systemctl --user enable --now %s'.
[Unit]
Description=urun container %s
Documentation=man:urun(1)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
%sExecStart=%s start %s
ExecStop=%s stop -t %d %s
TimeoutStopSec=%d

[Install]
WantedBy=default.target
`, name, name, st.Name, env.String(), systemdQuote(urun), id, systemdQuote(urun), stopTimeout, id, stopTimeout+10)
	return name, unit, nil
}

// systemdQuote quotes s for an Exec or Environment line when it needs it.
func systemdQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$%") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$", "%", "%%")
	return `"` + r.Replace(s) + `"`
}
