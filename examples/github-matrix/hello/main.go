// Command hello is the program the GitHub matrix example and the e2e
// workflow put into an image: it says which platform it was built for, so a
// check can run it and see that the index routes each platform to its own
// binary.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("hello from %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
