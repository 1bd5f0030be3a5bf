package main

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{10}, 0.95, 10},
		{[]float64{0, 100}, 0.95, 95},
	} {
		if got := quantile(c.xs, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.xs, c.q, got, c.want)
		}
	}
	if !math.IsNaN(quantile(nil, 0.5)) {
		t.Error("quantile of nothing should be NaN")
	}
}

func TestParsePhases(t *testing.T) {
	ps := parsePhases([]string{
		"urun: clone+maps    11.08 ms",
		"urun-init: rootfs (native)   0.53 ms",
		"urun: warning: something else",
		"urun: clone+maps    13.00 ms",
	})
	if len(ps) != 2 || ps[0].Name != "urun: clone+maps" || len(ps[0].Times) != 2 || ps[0].Times[1] != 13 {
		t.Fatalf("parsePhases = %+v", ps)
	}
	if ps[1].Name != "urun-init: rootfs (native)" || ps[1].Times[0] != 0.53 {
		t.Fatalf("second phase = %+v", ps[1])
	}
}

func TestParsePhasesNetworkAndExitPath(t *testing.T) {
	ps := parsePhases([]string{
		"urun: network       30.07 ms (the init waited 11.20 ms for it)",
		"urun: exited        68.44 ms",
		"urun: cleaned up       +4.48 ms after exit",
	})
	want := []phase{{"urun: network", []float64{30.07}}, {"urun: exited", []float64{68.44}}, {"urun: cleaned up (after exit)", []float64{4.48}}}
	if len(ps) != len(want) {
		t.Fatalf("parsePhases = %+v", ps)
	}
	for i := range want {
		if ps[i].Name != want[i].Name || ps[i].Times[0] != want[i].Times[0] {
			t.Errorf("phase %d = %+v, want %+v", i, ps[i], want[i])
		}
	}
}

func TestCompare(t *testing.T) {
	benches := map[string][]result{
		"B2": {{Name: "urun run IMG", Median: 40}, {Name: "podman run IMG", Median: 400}},
	}
	per := 500.0
	b5 := map[string]memResult{"podman": {Containers: 20, PerContainer: &per}}
	b6 := map[string]rateResult{
		"urun run IMG":      {Rates: []float64{20, 30}},
		"podman run IMG":    {Rates: []float64{2.5}},
		"runc run":          {Rates: []float64{10}, Failures: 1},
		"urun run --bundle": {Rates: []float64{30}},
	}
	got := map[string]ratio{}
	for _, r := range compare(benches, b5, b6) {
		got[r.Bench+"|"+r.Urun+"|"+r.Peer] = r
	}
	b2 := got["B2|urun run IMG|podman run IMG"]
	if b2.Value == nil || *b2.Value != 0.1 || b2.Met == nil || !*b2.Met {
		t.Errorf("B2 ratio = %+v, want 0.1 and target met", b2)
	}
	if r := got["B1-nonet|urun run --bundle|runc run"]; r.Value != nil || r.Met != nil {
		t.Errorf("a missing benchmark must give no ratio and no verdict: %+v", r)
	}
	if r := got["B5|urun|podman"]; r.Value != nil {
		t.Errorf("B5 without urun must give no ratio: %+v", r)
	}
	if r := got["B6|urun run IMG|podman run IMG"]; r.Value == nil || *r.Value != 10 {
		t.Errorf("B6 ratio = %+v, want 10 (median 25 / 2.5)", r)
	}
	if r := got["B6|urun run --bundle|runc run"]; r.Value != nil {
		t.Errorf("B6 with failed runs must give no ratio: %+v", r)
	}
}

func TestCompareDisk(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	d := &diskResult{Images: 10, Disk: map[string]*float64{
		"urun layer store": f(103), "urun data directory": f(200), "podman graph root": f(100)}}
	rs := compareDisk(d)
	if len(rs) != 2 || rs[0].Value == nil || *rs[0].Value != 1.03 || rs[0].Met == nil || !*rs[0].Met {
		t.Fatalf("layer store against podman: %+v, want 1.03, met", rs)
	}
	if rs[1].Value == nil || *rs[1].Value != 2 || rs[1].Met != nil {
		t.Errorf("data directory against podman: %+v, want 2 and no target", rs[1])
	}
	if compareDisk(nil) != nil {
		t.Error("no b8.json must give no ratios")
	}
}
