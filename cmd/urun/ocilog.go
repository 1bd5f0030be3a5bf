package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// logError appends err to the --log file, as runc does: containerd's shim
// and conmon read the last error from there when a runtime command fails.
// json: one object per line, {"level":"error","msg":…,"time":…}.
func (g *globals) logError(err error) {
	if g.log == "" || err == nil {
		return
	}
	f, ferr := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	msg := strings.TrimSpace(err.Error())
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": msg, "time": now})
		f.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, msg)
}
