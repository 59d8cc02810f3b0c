package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "meridian.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	p := writeConfig(t, `
dns:
  listen: ["127.0.0.1:1053", "[::1]:1053"]
http:
  listen: 127.0.0.1:8053
data_dir: data
state: state.yaml
`)
	if err := os.WriteFile(filepath.Join(filepath.Dir(p), "state.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.DNS.Listen) != 2 || c.DNS.Listen[1] != "[::1]:1053" || c.HTTP.Listen != "127.0.0.1:8053" {
		t.Errorf("listen = %v, %q", c.DNS.Listen, c.HTTP.Listen)
	}
	if want := filepath.Join(filepath.Dir(p), "data"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q (relative to the config file)", c.DataDir, want)
	}
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults lost: %+v", c.Log)
	}
}

func TestConfigDNSLimits(t *testing.T) {
	p := writeConfig(t, `
dns:
  rrl: {responses_per_second: 20, slip: 0, window: 30, ipv4_prefix: 32, ipv6_prefix: 64}
  tcp: {max_connections: 10, max_connections_per_client: -1, idle_timeout: 5s, read_timeout: 1s}
`)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.dnsConfig()
	r := d.RRL
	if r.ResponsesPerSecond != 20 || r.Slip != 0 || r.Window != 30*time.Second || r.IPv4Prefix != 32 || r.IPv6Prefix != 64 {
		t.Errorf("rrl = %+v", r)
	}
	if d.TCPMaxConnections != 10 || d.TCPMaxConnectionsPerClient != -1 || d.TCPIdleTimeout != 5*time.Second || d.ReadTimeout != time.Second {
		t.Errorf("tcp = %+v", d)
	}
	// Unset, slip is BIND's 2 and the window may be a Go duration.
	p = writeConfig(t, "dns:\n  rrl: {responses_per_second: 5, window: 1m}\n")
	if c, err = LoadConfig(p); err != nil {
		t.Fatal(err)
	}
	if r := c.rrl(); r.Slip != 2 || r.Window != time.Minute {
		t.Errorf("rrl defaults = %+v", r)
	}
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown key", "dns:\n  listen: [127.0.0.1:53]\n  lisen: x\n", `meridian.yaml:3: unknown key "lisen"`},
		{"bad listen", "dns:\n  listen:\n    - 127.0.0.1:53\n    - 127.0.0.1\n", `meridian.yaml:4: dns.listen[1]: "127.0.0.1": not host:port`},
		{"bad port", "dns:\n  listen: [\"127.0.0.1:99999\"]\n", `meridian.yaml:2: dns.listen[0]: "127.0.0.1:99999": port "99999" is not a number`},
		{"duplicate listen", "dns:\n  listen: [\"127.0.0.1:53\", \"127.0.0.1:53\"]\n", `meridian.yaml:2: dns.listen[1]: "127.0.0.1:53" is listed twice`},
		{"empty listen", "dns:\n  listen: []\n", `meridian.yaml:2: dns.listen: at least one address is needed`},
		{"bad http listen", "http:\n  listen: nowhere\n", `meridian.yaml:2: http.listen: "nowhere": not host:port`},
		{"listen not a list", "dns:\n  listen: {a: b}\n", `meridian.yaml:2: `},
		{"missing state file", "state: nope.yaml\n", `meridian.yaml:1: state: stat `},
		{"missing geoip", "geoip:\n  city: none.mmdb\n", `meridian.yaml:2: geoip.city: stat `},
		{"asn without city", "geoip:\n  asn: x.mmdb\n", `meridian.yaml:2: geoip.asn: an ASN database needs a City`},
		{"bad reload", "geoip:\n  reload: often\n", `meridian.yaml:2: `},
		{"bad log level", "log:\n  level: loud\n", `meridian.yaml:2: log.level: "loud" is not debug`},
		{"rrl negative rate", "dns:\n  rrl:\n    responses_per_second: -5\n", `meridian.yaml:3: dns.rrl.responses_per_second: responses_per_second must be`},
		{"rrl slip", "dns:\n  rrl:\n    responses_per_second: 5\n    slip: 20\n", `meridian.yaml:4: dns.rrl.slip: slip must be`},
		{"rrl window", "dns:\n  rrl:\n    responses_per_second: 5\n    window: soon\n", `meridian.yaml:4: `},
		{"rrl prefix", "dns:\n  rrl:\n    responses_per_second: 5\n    ipv4_prefix: 40\n", `meridian.yaml:4: dns.rrl.ipv4_prefix: ipv4_prefix must be`},
		{"tcp limit", "dns:\n  tcp:\n    max_connections: -2\n", `meridian.yaml:3: dns.tcp.max_connections: must be`},
		{"tcp timeout", "dns:\n  tcp:\n    idle_timeout: 2h\n", `meridian.yaml:3: dns.tcp.idle_timeout: must be`},
		{"store backend", "store:\n  backend: consul\n", `meridian.yaml:2: store.backend: "consul" is not bolt or etcd`},
		{"etcd without endpoints", "store:\n  backend: etcd\n", `meridian.yaml:2: store.endpoints: store.backend etcd needs`},
		{"endpoints without etcd", "store:\n  endpoints: [http://127.0.0.1:2379]\n", `meridian.yaml:2: store.endpoints: etcd endpoints are given but`},
		{"etcd endpoint", "store:\n  backend: etcd\n  endpoints:\n    - http://127.0.0.1:2379\n    - 127.0.0.1:2379\n", `meridian.yaml:5: store.endpoints[1]: "127.0.0.1:2379": want http://HOST:PORT`},
		{"etcd prefix", "store:\n  backend: etcd\n  endpoints: [http://127.0.0.1:2379]\n  prefix: meridian\n", `meridian.yaml:4: store.prefix: "meridian": must start with /`},
		{"etcd cert without key", "store:\n  backend: etcd\n  endpoints: [https://127.0.0.1:2379]\n  tls:\n    cert: c.pem\n", `meridian.yaml:5: store.tls.cert: a client certificate needs its key`},
		{"etcd ca missing", "store:\n  backend: etcd\n  endpoints: [https://127.0.0.1:2379]\n  tls:\n    ca: none.pem\n", `meridian.yaml:5: store.tls.ca: stat `},
		{"vote ttl", "store:\n  backend: etcd\n  endpoints: [http://127.0.0.1:2379]\n  vote_ttl: 1s\n", `meridian.yaml:4: store.vote_ttl: must be between 2s and 1h`},
		{"request timeout", "store:\n  backend: etcd\n  endpoints: [http://127.0.0.1:2379]\n  request_timeout: 1h\n", `meridian.yaml:4: store.request_timeout: must be between`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.doc)
			c, err := LoadConfig(p)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("config accepted, want error %q", tt.want)
			}
			got := strings.TrimPrefix(err.Error(), filepath.Dir(p)+string(os.PathSeparator))
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("error = %q\nwant prefix %q", got, tt.want)
			}
		})
	}
}
