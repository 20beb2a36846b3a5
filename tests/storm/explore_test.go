package main

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
)

func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	ems := map[string]int64{"10000refuse": 385632, "10000linux-drop": 125216, "100000refuse": 39012512, "100000linux-drop": 12970880}
	fmt.Println(ems)
	for _, j := range []attempts.Jitter{attempts.JitterFull} {
		for _, m := range []float64{2} {
			for _, c := range []time.Duration{1 * time.Second, 1500 * time.Millisecond} {
				for _, s := range []time.Duration{1 * time.Second, 1500 * time.Millisecond} {
					p := DefaultPolicy()
					p.Jitter, p.Multiplier, p.MaxDelay, p.Spread = j, m, c, s
					line := fmt.Sprintf("%-12s m=%.1f cap=%-4v spread=%-5v", j, m, c, s)
					worstT, worstF := 0.0, 1e9
					for _, seed := range []int64{1, 2} {
						for _, n := range []int{10000, 100000} {
							for _, ov := range []Overflow{OverflowRefuse, OverflowLinux} {
								cfg := Config{Clients: n, Rate: 5, Queue: 128, Overflow: ov, Timeout: 5 * time.Second, Seed: seed, Bin: 10 * time.Millisecond}
								r, _ := Run("x", p, cfg)
								tr := float64(r.Done) / float64(r.Ideal)
								fr := float64(ems[fmt.Sprint(n)+ov.String()]) / float64(max(r.Failed, 1))
								line += fmt.Sprintf(" | %5.2f× %5.1f %7d", tr, fr, r.Failed)
								worstT = max(worstT, tr)
								worstF = min(worstF, fr)
							}
						}
					}
					ok := ""
					if worstT <= 1.5 && worstF >= 10 {
						ok = " OK"
					}
					fmt.Printf("%s || %.2f %.1f%s\n", line, worstT, worstF, ok)
				}
			}
		}
	}
}
