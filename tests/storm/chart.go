package main

import "fmt"

func chart(path string, rs []Result) error { return fmt.Errorf("chart: not yet") }
