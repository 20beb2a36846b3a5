package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// maxPoints bounds the points drawn per panel; bins are merged by their
// maximum so peaks survive the downsampling.
const maxPoints = 2000

// chart draws arrivals per bin over time, one panel per policy (rows) and
// overflow model (columns), for the smallest N among rs, and writes a PNG.
func chart(path string, rs []Result) error {
	if len(rs) == 0 {
		return fmt.Errorf("chart: no results")
	}
	n := rs[0].Config.Clients
	for _, r := range rs {
		n = min(n, r.Config.Clients)
	}
	var policies []string
	cols := []Overflow{OverflowRefuse, OverflowLinux}
	cell := map[string]Result{}
	for _, r := range rs {
		if r.Config.Clients != n {
			continue
		}
		key := r.Policy + "/" + r.Config.Overflow.String()
		if _, seen := cell[key]; !seen {
			if _, seenPolicy := cell[r.Policy]; !seenPolicy {
				policies = append(policies, r.Policy)
				cell[r.Policy] = r
			}
			cell[key] = r
		}
	}
	plots := make([][]*plot.Plot, len(policies))
	for i, name := range policies {
		plots[i] = make([]*plot.Plot, len(cols))
		for j, ov := range cols {
			r, ok := cell[name+"/"+ov.String()]
			if !ok {
				continue
			}
			p, err := panel(r)
			if err != nil {
				return err
			}
			plots[i][j] = p
		}
	}
	const w, h = 12 * vg.Inch, 3 * vg.Inch
	img := vgimg.New(w, h*vg.Length(len(policies)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(policies), Cols: len(cols), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// panel is one policy under one overflow model.
func panel(r Result) (*plot.Plot, error) {
	p := plot.New()
	cfg := r.Config
	p.Title.Text = fmt.Sprintf("%s, overflow %s\nN=%d: all reconnected at %v (%.2f× ideal)",
		r.Policy, cfg.Overflow, cfg.Clients, r.Done.Round(time.Millisecond), float64(r.Done)/float64(r.Ideal))
	p.X.Label.Text = "time since the loss (s)"
	p.Y.Label.Text = fmt.Sprintf("SYN arrivals per %v", cfg.Bin)
	group := max(1, (len(r.Arrivals)+maxPoints-1)/maxPoints)
	var xys plotter.XYs
	peak, rest := 0.0, 0.0 // highest point, and highest after the first
	for i := 0; i < len(r.Arrivals); i += group {
		m := int32(0)
		for _, a := range r.Arrivals[i:min(i+group, len(r.Arrivals))] {
			m = max(m, a)
		}
		xys = append(xys, plotter.XY{X: (time.Duration(i) * cfg.Bin).Seconds(), Y: float64(m)})
		peak = max(peak, float64(m))
		if i > 0 {
			rest = max(rest, float64(m))
		}
	}
	// A first bin far above everything after it (the immediate first
	// attempt of the whole fleet) would flatten the rest of the panel:
	// draw it off scale and say how high it is.
	if len(xys) > 1 && xys[0].Y > 4*max(rest, 1) {
		p.Title.Text += fmt.Sprintf("\nfirst %v: %.0f arrivals (off scale)", cfg.Bin, xys[0].Y)
		peak = rest
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	line.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p.Add(line)
	// The backup's capacity per bin, for reference.
	capacity := cfg.Rate * float64(cfg.Bin) / float64(time.Millisecond)
	ref := plotter.NewFunction(func(float64) float64 { return capacity })
	ref.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	ref.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(ref)
	p.Legend.Add("arrivals", line)
	p.Legend.Add("handshake capacity", ref)
	p.Legend.Top = true
	p.Y.Min = 0
	p.Y.Max = max(peak, capacity) * 1.15 // room for the legend
	return p, nil
}
