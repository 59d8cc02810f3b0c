// Command meridian is Meridian's one binary: the DNS GSLB server, the
// explain tool and the admin commands that talk to the API (and, as later
// issues add it, the checker agent).
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "meridian:", err)
	if strings.HasPrefix(err.Error(), "unknown command") {
		os.Exit(exitUsage) // a mistyped command is a usage error, as in the API commands
	}
	os.Exit(exitCode(err))
}
