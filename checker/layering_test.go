package checker

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: checker depends on store/model only among the module's
// packages, and never on miekg/dns (which stays inside dnsserver) or the
// database.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Deps " "}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const module = "github.com/meridian-gslb/meridian/"
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && dep != module+"store/model" {
			t.Errorf("checker depends on %s; only store/model is allowed", dep)
		}
		if strings.HasPrefix(dep, "github.com/miekg/dns") || strings.HasPrefix(dep, "go.etcd.io/") {
			t.Errorf("checker depends on %s", dep)
		}
	}
}
