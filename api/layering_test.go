package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: api reaches the DNS server, GeoIP and the checkers only
// through what cmd injects (Config), never by import, and the database
// only through store. Test files may import dnsserver to wire a real
// server, as cmd does.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Deps " "}}|{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps, imports, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	const module = "github.com/meridian-gslb/meridian/"
	for _, dep := range strings.Fields(deps) {
		for _, banned := range []string{"dnsserver", "geo", "checker", "web"} {
			if dep == module+banned || strings.HasPrefix(dep, module+banned+"/") {
				t.Errorf("api depends on %s", dep)
			}
		}
		if strings.HasPrefix(dep, "github.com/miekg/dns") {
			t.Errorf("api depends on %s", dep)
		}
	}
	for _, imp := range strings.Fields(imports) {
		if strings.HasPrefix(imp, "go.etcd.io/") {
			t.Errorf("api imports %s: it goes through store", imp)
		}
	}
}
