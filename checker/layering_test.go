package checker

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: outside the standard library, checker depends on
// store/model and golang.org/x/net/dns/dnsmessage only — never on
// dnsserver, the API, the database or miekg/dns (which stays inside
// dnsserver).
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}{{end}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const self = "github.com/meridian-gslb/meridian/checker"
	allowed := map[string]bool{
		self: true,
		"github.com/meridian-gslb/meridian/store/model": true,
		"golang.org/x/net/dns/dnsmessage":               true,
	}
	for _, dep := range strings.Fields(string(out)) {
		if !allowed[dep] {
			t.Errorf("checker depends on %s; only the standard library, store/model and golang.org/x/net/dns/dnsmessage are allowed", dep)
		}
	}
}
