package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// cpuWatch runs a command while it reads the machine's CPU counters
// (/proc/stat) every 10 ms, and prints one tab-separated line: wall
// seconds, then how much of that time the machine spent
//
//   - saturated: at least 90 % of all cores running something (the job's
//     processes and the registries, or other load);
//   - disk: less than that, with at least a quarter of the cores waiting
//     for the disk (iowait: a registry's fsync);
//   - other: the rest, cores idle while something waits on the network,
//     a round trip or a process start.
//
// The counters tick 100 times a second, so one run is coarse; the
// benchmark sums several.
//
//	benchtool cpuwatch -- CMD ARGS...
func cpuWatch(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: benchtool cpuwatch -- CMD ARGS")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	prev, err := readCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var sat, disk, other float64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := start
	sample := func(now time.Time) error {
		cur, err := readCPU()
		if err != nil {
			return err
		}
		dt := now.Sub(last).Seconds()
		last = now
		total := cur.total - prev.total
		if total == 0 {
			other += dt
			return nil
		}
		busy := float64(total-(cur.idle-prev.idle)-(cur.iowait-prev.iowait)) / float64(total)
		wait := float64(cur.iowait-prev.iowait) / float64(total)
		prev = cur
		switch {
		case busy >= 0.9:
			sat += dt
		case wait >= 0.25:
			disk += dt
		default:
			other += dt
		}
		return nil
	}
	for {
		select {
		case err := <-done:
			if serr := sample(time.Now()); serr != nil {
				return serr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Printf("%.3f\t%.3f\t%.3f\t%.3f\n", time.Since(start).Seconds(), sat, disk, other)
			return nil
		case now := <-tick.C:
			if err := sample(now); err != nil {
				return err
			}
		}
	}
}

type cpuCounters struct{ total, idle, iowait uint64 }

// readCPU reads the first line of /proc/stat: user nice system idle
// iowait irq softirq steal ..., in clock ticks summed over all cores.
func readCPU() (cpuCounters, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuCounters{}, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return cpuCounters{}, err
	}
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuCounters{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var c cpuCounters
	for i, s := range fields[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuCounters{}, fmt.Errorf("/proc/stat: %w", err)
		}
		c.total += v
		switch i {
		case 3:
			c.idle = v
		case 4:
			c.iowait = v
		}
	}
	return c, nil
}

// watchTable prints the markdown table of cpuwatch lines collected as
// "TOOL<TAB>wall<TAB>saturated<TAB>disk<TAB>other", one row per tool in
// the order tools first appear, each column the median of its runs.
//
//	benchtool watchtable -in FILE
func watchTable(args []string) error {
	fs := flag.NewFlagSet("watchtable", flag.ContinueOnError)
	in := fs.String("in", "", "file of TOOL and cpuwatch lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var tools []string
	cols := map[string][4][]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 5 {
			return fmt.Errorf("%s: want 5 tab-separated fields, got %q", *in, sc.Text())
		}
		c, seen := cols[fields[0]]
		if !seen {
			tools = append(tools, fields[0])
		}
		for i, s := range fields[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%s: %w", *in, err)
			}
			c[i] = append(c[i], v)
		}
		cols[fields[0]] = c
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Println("| tool | wall s | saturated s | disk s | other s |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for _, t := range tools {
		c := cols[t]
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", t, median(c[0]), median(c[1]), median(c[2]), median(c[3]))
	}
	return nil
}
