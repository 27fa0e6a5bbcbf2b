package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// counts prints countproxy statistics side by side as a markdown table: a row
// per request kind (with its status), a column per LABEL=FILE, and totals.
// Each FILE holds countproxy's stats lines, KIND COUNT SENT RECEIVED,
// typically with the registry's name prefixed to KIND.
func counts(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("need LABEL=FILE arguments")
	}
	var labels []string
	tables := map[string]map[string][3]int64{}
	kinds := map[string]bool{}
	for _, a := range args {
		label, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want LABEL=FILE", a)
		}
		t, err := readCounts(path)
		if err != nil {
			return err
		}
		labels = append(labels, label)
		tables[label] = t
		for k := range t {
			kinds[k] = true
		}
	}
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	fmt.Printf("| request (status) | %s |\n", strings.Join(labels, " | "))
	fmt.Printf("| --- |%s\n", strings.Repeat(" ---: |", len(labels)))
	for _, k := range keys {
		row := make([]string, len(labels))
		for i, l := range labels {
			if v, ok := tables[l][k]; ok {
				row[i] = strconv.FormatInt(v[0], 10)
			} else {
				row[i] = "·"
			}
		}
		fmt.Printf("| %s | %s |\n", k, strings.Join(row, " | "))
	}
	for i, name := range []string{"**requests**", "**bytes sent (uploaded)**", "**bytes received**"} {
		row := make([]string, len(labels))
		for j, l := range labels {
			var sum int64
			for _, v := range tables[l] {
				sum += v[i]
			}
			row[j] = "**" + strconv.FormatInt(sum, 10) + "**"
		}
		fmt.Printf("| %s | %s |\n", name, strings.Join(row, " | "))
	}
	return nil
}

func readCounts(path string) (map[string][3]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := map[string][3]int64{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 4 {
			continue
		}
		var v [3]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(fs[1+i], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		old := t[fs[0]]
		t[fs[0]] = [3]int64{old[0] + v[0], old[1] + v[1], old[2] + v[2]}
	}
	return t, sc.Err()
}
