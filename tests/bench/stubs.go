package main

func benchDetect(cfg config, rep *report) error  { return nil }
func benchMemory(cfg config, rep *report) error  { return nil }
func benchStorm(cfg config, rep *report) error   { return nil }
