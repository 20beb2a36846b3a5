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

// stormChart draws the backup's new connections per stormBin over time,
// one line per policy, and writes a PNG.
func stormChart(path string, rs []stormResult, n int) error {
	if len(rs) == 0 {
		return fmt.Errorf("no storm results")
	}
	p := plot.New()
	r0 := rs[0]
	p.Title.Text = fmt.Sprintf("Reconnect storm, real sockets: %d %s connections, backup listen backlog %d", n, "TLS (RSA-2048)", r0.backlog)
	p.X.Label.Text = "time since the primary was killed (s)"
	p.Y.Label.Text = fmt.Sprintf("new connections accepted by the backup per %v", stormBin)
	colors := []color.RGBA{
		{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
		{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	}
	for i, r := range rs {
		var end time.Duration
		for _, t := range r.accepts {
			end = max(end, t)
		}
		bins := make([]int, int(end/stormBin)+2)
		for _, t := range r.accepts {
			bins[int(t/stormBin)]++
		}
		xys := make(plotter.XYs, len(bins))
		for j, c := range bins {
			xys[j] = plotter.XY{X: (time.Duration(j) * stormBin).Seconds(), Y: float64(c)}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		line.Color = colors[i%len(colors)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: all back in %v, %d failed attempts", r.policy, roundDur(r.done), r.failed), line)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.YOffs = -vg.Points(4)
	p.Title.Padding = vg.Points(8)
	p.Y.Min = 0
	p.X.Min = 0
	img := vgimg.New(10*vg.Inch, 5*vg.Inch)
	p.Draw(drawCanvas(img))
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

func drawCanvas(img *vgimg.Canvas) draw.Canvas { return draw.New(img) }
