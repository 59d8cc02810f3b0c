package main

import (
	"encoding/json"
	"net"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// queryECS asks name/qtype with an EDNS Client Subnet option and returns the
// answer's addresses, sorted, and the ECS scope of the response (-1 when the
// response has no ECS).
// ecsFor is the ECS option of a query from subnet (a CIDR).
func ecsFor(t testing.TB, subnet string) *dns.EDNS0_SUBNET {
	t.Helper()
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatal(err)
	}
	ones, _ := ipnet.Mask.Size()
	family := uint16(1)
	if ipnet.IP.To4() == nil {
		family = 2
	}
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(ones), Address: ipnet.IP}
}

func queryECS(t *testing.T, addr, name string, qtype uint16, subnet string) ([]string, int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, ecsFor(t, subnet))
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s with ECS %s: %v", name, dns.TypeToString[qtype], subnet, err)
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("%s with ECS %s: rcode %s aa=%v", name, subnet, dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	var addrs []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			addrs = append(addrs, rr.A.String())
		case *dns.AAAA:
			addrs = append(addrs, rr.AAAA.String())
		}
	}
	slices.Sort(addrs)
	scope := -1
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				scope = int(s.SourceScope)
			}
		}
	}
	return addrs, scope
}

// TestServeGeoExample runs the bundled example (three data centers on three
// continents, MaxMind's test City database) as a real process and checks
// that clients on each continent get their own data center, with the ECS
// scope of the database network they are in.
func TestServeGeoExample(t *testing.T) {
	p := startServe(t, "--config", "../../examples/meridian.yaml", "--data-dir", t.TempDir())
	tests := []struct {
		subnet    string
		qtype     uint16
		want      []string
		wantScope int
	}{
		{"2.2.3.0/24", dns.TypeA, []string{"192.0.2.10", "192.0.2.11"}, 24},     // United Kingdom: fra
		{"214.78.120.0/22", dns.TypeA, []string{"198.51.100.10"}, 22},           // San Diego: iad
		{"175.16.199.0/24", dns.TypeA, []string{"203.0.113.10"}, 24},            // China: sin
		{"81.2.69.142/32", dns.TypeA, []string{"192.0.2.10", "192.0.2.11"}, 31}, // London, a /31 in the database
		{"2001:218::/32", dns.TypeAAAA, []string{"2001:db8:5e1::10"}, 32},       // Japan: sin
		{"89.160.20.112/28", dns.TypeAAAA, []string{"2001:db8:f7a::10"}, 28},    // Sweden: fra
	}
	for _, tt := range tests {
		got, scope := queryECS(t, p.udp, "app.gslb.example.test.", tt.qtype, tt.subnet)
		if !slices.Equal(got, tt.want) || scope != tt.wantScope {
			t.Errorf("app %s from %s: %v scope /%d, want %v scope /%d", dns.TypeToString[tt.qtype], tt.subnet, got, scope, tt.want, tt.wantScope)
		}
	}
	// Static names do not depend on the client: scope 0.
	if _, scope := queryECS(t, p.udp, "www.gslb.example.test.", dns.TypeA, "2.2.3.0/24"); scope != 0 {
		t.Errorf("www with ECS: scope /%d, want /0", scope)
	}
	p.stop(t)
}

// TestExplainCommandMatchesDNS runs `meridian explain` on the bundled
// example and checks that it predicts what the running server answers.
func TestExplainCommandMatchesDNS(t *testing.T) {
	p := startServe(t, "--config", "../../examples/meridian.yaml", "--data-dir", t.TempDir())
	for _, tt := range []struct {
		name   string
		qtype  uint16
		subnet string
	}{
		{"app.gslb.example.test.", dns.TypeA, "2.2.3.0/24"},
		{"app.gslb.example.test.", dns.TypeA, "214.78.120.0/22"},
		{"app.gslb.example.test.", dns.TypeAAAA, "2001:218::/32"},
		{"api.gslb.example.test.", dns.TypeA, "175.16.199.0/24"},
		{"www.gslb.example.test.", dns.TypeA, "2.2.3.0/24"},
	} {
		out, err := exec.Command(meridianBin, "explain", "--config", "../../examples/meridian.yaml", tt.name,
			"--client", tt.subnet, "--type", dns.TypeToString[tt.qtype], "--json").Output()
		if err != nil {
			t.Fatalf("explain %s %s: %v", tt.name, tt.subnet, err)
		}
		var e struct {
			Answer   []string `json:"answer"`
			ECSScope *int     `json:"ecs_scope"`
		}
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("explain output is not JSON: %v\n%s", err, out)
		}
		var explained []string
		for _, rr := range e.Answer {
			parsed, err := dns.NewRR(rr)
			if err != nil {
				t.Fatalf("explain answer %q: %v", rr, err)
			}
			explained = append(explained, addrOf(parsed))
		}
		slices.Sort(explained)
		got, scope := queryECS(t, p.udp, tt.name, tt.qtype, tt.subnet)
		if !slices.Equal(got, explained) || e.ECSScope == nil || *e.ECSScope != scope {
			t.Errorf("%s from %s: DNS answered %v scope /%d; explain said %v scope %v", tt.name, tt.subnet, got, scope, explained, e.ECSScope)
		}
	}
	p.stop(t)
}

func addrOf(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A.String()
	case *dns.AAAA:
		return rr.AAAA.String()
	}
	return rr.String()
}
