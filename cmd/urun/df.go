package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/docker/go-units"

	"github.com/urun-dev/urun/engine"
	"github.com/urun-dev/urun/store"
)

// dfRow is one line of `system df`, with podman's JSON field names.
type dfRow struct {
	Type           string
	Total, Active  int
	RawSize        int64
	RawReclaimable int64
	Size           string
	Reclaimable    string
}

func systemDF(g *globals, verbose bool, format string) error {
	if format != "" && format != "json" {
		return fmt.Errorf("system df --format %q: use json (or no --format for the table)", format)
	}
	data, err := engine.DataDir()
	if err != nil {
		return err
	}
	root, err := engine.StateRoot(g.root)
	if err != nil {
		return err
	}
	u, err := engine.DiskUsage(root, data)
	if err != nil {
		return err
	}
	vols, err := listVolumes()
	if err != nil {
		return err
	}
	type volDisk struct {
		Name  string
		Links int
		Size  int64
		users []string
	}
	var vd []volDisk
	vrow := dfRow{Type: "Local Volumes", Total: len(vols)}
	for _, v := range vols {
		users := volumeUsers(root, v)
		d := volDisk{Name: v.Name, Links: len(users), Size: store.TreeSize(v.Mountpoint), users: users}
		vd = append(vd, d)
		vrow.RawSize += d.Size
		if d.Links > 0 {
			vrow.Active++
		} else {
			vrow.RawReclaimable += d.Size
		}
	}
	running := 0
	for _, c := range u.Containers {
		if c.Running {
			running++
		}
	}
	rows := []dfRow{
		{Type: "Images", Total: u.ImagesTotal, Active: u.ImagesActive, RawSize: u.ImagesSize, RawReclaimable: u.ImagesReclaimable},
		{Type: "Containers", Total: len(u.Containers), Active: running, RawSize: u.ContainersSize, RawReclaimable: u.ContainersReclaimable},
		vrow,
	}
	for i := range rows {
		r := &rows[i]
		r.Size = units.HumanSize(float64(r.RawSize))
		r.Reclaimable = units.HumanSize(float64(r.RawReclaimable))
		if r.RawSize > 0 {
			r.Reclaimable += fmt.Sprintf(" (%d%%)", 100*r.RawReclaimable/r.RawSize)
		} else {
			r.Reclaimable += " (0%)"
		}
	}
	if format == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if !verbose {
			return enc.Encode(rows)
		}
		return enc.Encode(map[string]any{"Images": u.Images, "Containers": u.Containers, "Volumes": vd})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	defer w.Flush()
	hs := func(n int64) string { return units.HumanSize(float64(n)) }
	if !verbose {
		fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, r.Size, r.Reclaimable)
		}
		return nil
	}
	fmt.Fprintln(w, "Images space usage:\n\nREPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, i := range u.Images {
		v := imageView{e: store.Entry{Name: i.Name, ID: i.ID, Created: i.Created}}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", v.Repository(), v.Tag(), i.ID, v.CreatedSince(),
			hs(i.Size), hs(i.Shared), hs(i.Unique), i.Containers)
	}
	fmt.Fprintln(w, "\nContainers space usage:\n\nCONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, c := range u.Containers {
		nv := 0
		for _, v := range vd {
			if slices.Contains(v.users, c.Name) {
				nv++
			}
		}
		cmd := strings.Join(c.Command, " ")
		if len(cmd) > 20 {
			cmd = cmd[:17] + "..."
		}
		fmt.Fprintf(w, "%.12s\t%s\t%q\t%d\t%s\t%s\t%s\t%s\n", c.ID, c.Image, cmd, nv, hs(c.Size), since(c.Created)+" ago", c.Status, c.Name)
	}
	fmt.Fprintln(w, "\nLocal Volumes space usage:\n\nVOLUME NAME\tLINKS\tSIZE")
	for _, v := range vd {
		fmt.Fprintf(w, "%s\t%d\t%s\n", v.Name, v.Links, hs(v.Size))
	}
	return nil
}
