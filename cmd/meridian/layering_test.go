package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/meridian-gslb/meridian"

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// TestLayering checks the dependency directions of DESIGN.md: one way
// only, and github.com/miekg/dns used by dnsserver alone.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}

	forbid := func(pkg string, bad func(dep string) bool, why string) {
		t.Helper()
		p, ok := pkgs[pkg]
		if !ok {
			t.Errorf("package %s not found", pkg)
			return
		}
		for _, d := range p.Deps {
			if bad(d) {
				t.Errorf("%s depends on %s: %s", pkg, d, why)
			}
		}
	}
	isOwn := func(d string) bool { return strings.HasPrefix(d, module+"/") }
	is := func(names ...string) func(string) bool {
		return func(d string) bool {
			for _, n := range names {
				if d == module+"/"+n || strings.HasPrefix(d, module+"/"+n+"/") {
					return true
				}
			}
			return false
		}
	}

	forbid("store/model", func(d string) bool { return isOwn(d) || strings.Contains(strings.Split(d, "/")[0], ".") }, "the model imports only the standard library")
	forbid("geo", isOwn, "geo imports nothing of Meridian")
	forbid("dnsserver", func(d string) bool {
		return isOwn(d) && d != module+"/store/model" && !is("geo")(d) || strings.HasPrefix(d, "go.etcd.io/")
	}, "dnsserver reads state through store/model only, never the database")
	forbid("checker", is("dnsserver", "api", "web"), "checker and dnsserver do not import each other")
	forbid("store", is("dnsserver", "api", "checker", "web", "geo"), "store knows nothing of DNS or HTTP")
	forbid("api", is("dnsserver"), "api goes through store")

	for name, p := range pkgs {
		if name == "dnsserver" || strings.HasPrefix(name, "dnsserver/") {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/miekg/dns") {
				t.Errorf("%s imports %s: keep miekg/dns inside dnsserver", name, imp)
			}
		}
	}
}
