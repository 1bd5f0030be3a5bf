package main

import (
	"errors"
	"os/exec"
	"testing"
)

func TestJudge(t *testing.T) {
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	cases := []struct {
		name string
		out  string
		err  error
		pass bool
	}{
		{"all ok", "TAP version 13\nok 1 - a\n  ---\n  {\n  \"x\": 1\n  }\n  ...\nok 2 # SKIP b\n1..2\n", nil, true},
		{"one not ok", "TAP version 13\nok 1 - a\nnot ok 2 - b\n1..2\n", nil, false},
		{"1..0 alone: lifecycle checks held", "TAP version 13\n1..0\n", nil, true},
		{"1..0 with an error block", "TAP version 13\n  ---\n  {\n    \"error\": \"hooks\"\n  }\n  ...\n1..0\n", nil, false},
		{"no TAP, exit 0: bad config refused", "failed to create the container\n", nil, true},
		{"no TAP, exit 1: util.Fatal", "boom\n", exit1, false},
		{"fewer than planned", "ok 1\n1..3\n", nil, false},
		{"all skipped", "ok 1 # SKIP x\n1..1\n", nil, false},
		{"timeout", "ok 1\n1..1\n", errors.New("timed out after 1s"), false},
		{"not ok inside YAML is no result", "ok 1 - a\n  ---\n  not ok 7\n  ...\n1..1\n", nil, true},
	}
	for _, c := range cases {
		r := parseTAP([]byte(c.out))
		judge(&r, c.err)
		if r.Pass != c.pass {
			t.Errorf("%s: pass=%v (%s), want %v", c.name, r.Pass, r.Detail, c.pass)
		}
	}
}
