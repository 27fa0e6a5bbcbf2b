package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// run is one measured run: a line of the results file,
// GROUP TOOL REP WALL_S USER_S SYS_S MAXRSS_KIB [SERVER_CPU_S]
// (tab-separated); SERVER_CPU_S is what the registries spent meanwhile.
type run struct {
	group, tool                  string
	wall, user, sys, rss, server float64
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// summary prints a markdown table of one group's runs: per tool, the median
// wall time, its range, median CPU and peak RSS, and the ratio of medians to
// the baseline tool's, with the targets given checked.
func summary(args []string) error {
	fl := flag.NewFlagSet("summary", flag.ContinueOnError)
	in := fl.String("in", "", "results file")
	group := fl.String("group", "", "group to summarise")
	baseline := fl.String("baseline", "", "tool whose median is 1.00")
	var targets, rssTargets listFlag
	fl.Var(&targets, "target", "TOOL=RATIO: the tool's median must be at most RATIO × the baseline's (repeatable)")
	fl.Var(&rssTargets, "rss-target", "TOOL=MIB: the tool's largest peak RSS must be at most MIB (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	runs, err := readRuns(*in, *group)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("no runs of group %q in %s", *group, *in)
	}
	var tools []string
	by := map[string][]run{}
	for _, r := range runs {
		if _, ok := by[r.tool]; !ok {
			tools = append(tools, r.tool)
		}
		by[r.tool] = append(by[r.tool], r)
	}
	ratioT, err := parseTargets(targets)
	if err != nil {
		return err
	}
	rssT, err := parseTargets(rssTargets)
	if err != nil {
		return err
	}
	base := 0.0
	if rs, ok := by[*baseline]; ok {
		base = median(pluck(rs, func(r run) float64 { return r.wall }))
	} else if *baseline != "" {
		return fmt.Errorf("baseline %q has no runs in group %q", *baseline, *group)
	}

	fmt.Println("| tool | runs | median s | min–max s | median CPU s | registry CPU s | peak RSS MiB (max) | × baseline | target |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, t := range tools {
		rs := by[t]
		walls := pluck(rs, func(r run) float64 { return r.wall })
		cpu := pluck(rs, func(r run) float64 { return r.user + r.sys })
		rss := pluck(rs, func(r run) float64 { return r.rss / 1024 })
		server := pluck(rs, func(r run) float64 { return r.server })
		med := median(walls)
		ratio := "–"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f", med/base)
		}
		var verdicts []string
		if want, ok := ratioT[t]; ok && base > 0 {
			verdicts = append(verdicts, verdict(med/base <= want, fmt.Sprintf("≤ %.2f×", want)))
		}
		if want, ok := rssT[t]; ok {
			verdicts = append(verdicts, verdict(slices.Max(rss) <= want, fmt.Sprintf("RSS ≤ %.0f MiB", want)))
		}
		target := strings.Join(verdicts, "; ")
		if target == "" {
			target = "–"
		}
		fmt.Printf("| %s | %d | %.3f | %.3f–%.3f | %.2f | %.2f | %.0f (%.0f) | %s | %s |\n",
			t, len(rs), med, slices.Min(walls), slices.Max(walls), median(cpu), median(server), median(rss), slices.Max(rss), ratio, target)
	}
	return nil
}

func verdict(ok bool, what string) string {
	if ok {
		return what + ": met"
	}
	return what + ": **missed**"
}

func parseTargets(list []string) (map[string]float64, error) {
	m := map[string]float64{}
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("target %q: want TOOL=NUMBER", s)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", s, err)
		}
		m[k] = f
	}
	return m, nil
}

func readRuns(path, group string) ([]run, error) {
	if path == "" {
		return nil, errors.New("need -in")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []run
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 7 || fs[0] != group {
			continue
		}
		r := run{group: fs[0], tool: fs[1]}
		for i, p := range []*float64{&r.wall, &r.user, &r.sys, &r.rss} {
			if *p, err = strconv.ParseFloat(fs[3+i], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		if len(fs) > 7 {
			if r.server, err = strconv.ParseFloat(fs[7], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}

func pluck(rs []run, f func(run) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
