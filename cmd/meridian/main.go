// Command meridian is Meridian's one binary: the DNS GSLB server and,
// as later issues add them, the checker agent and the admin commands.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(1)
	}
}
