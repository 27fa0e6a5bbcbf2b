// Command benchtool holds the helpers bench/run.sh needs that the shell does
// badly: generating the seeded input tree, pushing the join benchmark's
// per-platform source images, finding a free port, turning raw
// measurements into median tables, and telling where a run's time went.
//
//	benchtool gentree  -dir DIR -bytes N -files N -seed N
//	benchtool pushsrc  -registry HOST -repo NAME -bytes N -seed N
//	benchtool mkarchive -tree DIR -layers N -out FILE [-gzip] [-replace DIR]
//	benchtool freeport
//	benchtool summary  -in FILE -group NAME -baseline TOOL [-target TOOL=RATIO]... [-rss-target MIB]
//	benchtool counts   LABEL=FILE...
//	benchtool cpuwatch -- CMD ARGS...
//	benchtool watchtable -in FILE
//
// Each prints to stdout and exits non-zero with one line on stderr when it
// fails.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gentree|pushsrc|mkarchive|freeport|summary|counts|cpuwatch|watchtable [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"gentree":    genTree,
		"pushsrc":    pushSources,
		"freeport":   freePort,
		"mkarchive":  mkArchive,
		"summary":    summary,
		"counts":     counts,
		"cpuwatch":   cpuWatch,
		"watchtable": watchTable,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func freePort([]string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}
