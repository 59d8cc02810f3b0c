package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/yamlfile"
)

// Config is the process configuration of `meridian serve`: where to listen
// and where state lives. Everything dynamic (zones, services, ...) lives in
// the store instead. The YAML keys are a contract with operators and
// external checks; keep them.
type Config struct {
	DNS struct {
		// Listen lists host:port addresses, each served on UDP and TCP.
		Listen []string `yaml:"listen"`
		// RRL is response rate limiting of UDP answers (off without
		// responses_per_second); see dnsserver.RRLConfig.
		RRL struct {
			ResponsesPerSecond int     `yaml:"responses_per_second"`
			Slip               *int    `yaml:"slip"`   // default 2
			Window             seconds `yaml:"window"` // seconds or a Go duration; default 15s
			IPv4Prefix         int     `yaml:"ipv4_prefix"`
			IPv6Prefix         int     `yaml:"ipv6_prefix"`
		} `yaml:"rrl"`
		// TCP limits connections and how long they may wait.
		TCP struct {
			MaxConnections          int            `yaml:"max_connections"`            // default 1000; -1 no limit
			MaxConnectionsPerClient int            `yaml:"max_connections_per_client"` // default 64; -1 no limit
			IdleTimeout             model.Duration `yaml:"idle_timeout"`               // between queries; default 10s
			ReadTimeout             model.Duration `yaml:"read_timeout"`               // first query, each write; default 2s
		} `yaml:"tcp"`
	} `yaml:"dns"`
	HTTP struct {
		// Listen is the host:port of the HTTP server (health endpoints;
		// the API and the dashboard later).
		Listen string `yaml:"listen"`
		// TLS makes the server serve HTTPS; see tls.go.
		TLS struct {
			Cert string `yaml:"cert"` // PEM certificate chain, re-read when it changes
			Key  string `yaml:"key"`  // PEM private key, re-read when it changes
			// ClientCA verifies client certificates when presented
			// (checker agents); tokens are still required.
			ClientCA string `yaml:"client_ca"`
		} `yaml:"tls"`
		// Insecure allows plain HTTP on a non-loopback listen address.
		Insecure bool `yaml:"insecure"`
	} `yaml:"http"`
	// DataDir is the directory of the bbolt file (with store.backend etcd:
	// of the node's local copy of the shared state).
	DataDir string `yaml:"data_dir"`
	// Store chooses where the state lives; see store.go.
	Store StoreConfig `yaml:"store"`
	GeoIP struct {
		// City is a City or Country .mmdb (MaxMind GeoIP2/GeoLite2 or
		// DB-IP); without it, steps that need a location fall back.
		City string `yaml:"city"`
		// ASN is an optional ASN .mmdb.
		ASN string `yaml:"asn"`
		// Reload is how often the files are checked for replacement
		// (geoipupdate writes and renames); 0 means 10s.
		Reload model.Duration `yaml:"reload"`
	} `yaml:"geoip"`
	// State is an optional desired-state file reconciled into the store
	// at start.
	State string `yaml:"state"`
	// Node names this Meridian node: its embedded checker votes under
	// this name, from this region and location.
	Node struct {
		Name     string          `yaml:"name"` // default: the host name
		Region   string          `yaml:"region"`
		Location *model.Location `yaml:"location"`
	} `yaml:"node"`
	Checker struct {
		// Embedded runs the node's own checker (default true); false
		// leaves health checking to remote agents.
		Embedded *bool `yaml:"embedded"`
	} `yaml:"checker"`
	Log struct {
		Level  string `yaml:"level"`  // debug, info (default), warn, error
		Format string `yaml:"format"` // text (default) or json
	} `yaml:"log"`

	doc *yamlfile.Doc // where the values came from, for error lines
}

// DefaultConfig is what `meridian serve` uses without a config file:
// unprivileged loopback ports and ./data, safe on a developer's machine.
func DefaultConfig() *Config {
	c := &Config{DataDir: "data"}
	c.DNS.Listen = []string{"127.0.0.1:1053"}
	c.HTTP.Listen = "127.0.0.1:8053"
	c.Log.Level = "info"
	c.Log.Format = "text"
	return c
}

// LoadConfig reads the YAML file at path over the defaults. Relative paths
// in it (data_dir, state, geoip.*, http.tls.*) are taken relative to the file's
// directory, so a config works from any working directory.
func LoadConfig(path string) (*Config, error) {
	c := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	doc, err := yamlfile.Decode(path, data, c)
	if err != nil {
		return nil, err
	}
	c.doc = doc
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.DataDir, &c.State, &c.GeoIP.City, &c.GeoIP.ASN,
		&c.HTTP.TLS.Cert, &c.HTTP.TLS.Key, &c.HTTP.TLS.ClientCA,
		&c.Store.TLS.CA, &c.Store.TLS.Cert, &c.Store.TLS.Key} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

// Validate checks every value and names the key (and the line, when the
// value came from a file) of the first bad one.
func (c *Config) Validate() error {
	if len(c.DNS.Listen) == 0 {
		return c.errorf("dns.listen", "at least one address is needed")
	}
	seen := map[string]bool{}
	for i, a := range c.DNS.Listen {
		key := fmt.Sprintf("dns.listen[%d]", i)
		if err := checkHostPort(a); err != nil {
			return c.errorf(key, "%q: %v", a, err)
		}
		if seen[a] {
			return c.errorf(key, "%q is listed twice", a)
		}
		seen[a] = true
	}
	if err := c.validateDNSLimits(); err != nil {
		return err
	}
	if err := checkHostPort(c.HTTP.Listen); err != nil {
		return c.errorf("http.listen", "%q: %v", c.HTTP.Listen, err)
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.DataDir == "" {
		return c.errorf("data_dir", "must not be empty")
	}
	if err := c.validateStore(); err != nil {
		return err
	}
	if c.State != "" {
		if _, err := os.Stat(c.State); err != nil {
			return c.errorf("state", "%v", err)
		}
	}
	if c.GeoIP.City != "" {
		if _, err := os.Stat(c.GeoIP.City); err != nil {
			return c.errorf("geoip.city", "%v", err)
		}
	}
	if c.GeoIP.ASN != "" {
		if c.GeoIP.City == "" {
			return c.errorf("geoip.asn", "an ASN database needs a City or Country database (geoip.city) beside it")
		}
		if _, err := os.Stat(c.GeoIP.ASN); err != nil {
			return c.errorf("geoip.asn", "%v", err)
		}
	}
	if c.GeoIP.Reload < 0 {
		return c.errorf("geoip.reload", "must not be negative")
	}
	if c.Node.Name != "" {
		ck := model.Checker{Name: c.Node.Name, Location: c.Node.Location}
		if err := ck.Validate(); err != nil {
			return c.errorf("node.name", "%q: use letters, digits, '-' and '_' (at most 63)", c.Node.Name)
		}
	}
	if l := c.Node.Location; l != nil {
		ck := model.Checker{Name: "x", Location: l}
		if err := ck.Validate(); err != nil {
			return c.errorf("node.location", "lat must be within ±90 and lon within ±180")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return c.errorf("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return c.errorf("log.format", "%q is not text or json", c.Log.Format)
	}
	return nil
}

// rrl is dns.rrl as the DNS server takes it.
func (c *Config) rrl() dnsserver.RRLConfig {
	r := c.DNS.RRL
	slip := dnsserver.DefaultRRLSlip
	if r.Slip != nil {
		slip = *r.Slip
	}
	return dnsserver.RRLConfig{
		ResponsesPerSecond: r.ResponsesPerSecond, Slip: slip, Window: time.Duration(r.Window),
		IPv4Prefix: r.IPv4Prefix, IPv6Prefix: r.IPv6Prefix,
	}
}

// dnsConfig is the DNS server's configuration.
func (c *Config) dnsConfig() dnsserver.Config {
	t := c.DNS.TCP
	return dnsserver.Config{
		Listen:                     c.DNS.Listen,
		TCPIdleTimeout:             t.IdleTimeout.D(),
		ReadTimeout:                t.ReadTimeout.D(),
		TCPMaxConnections:          t.MaxConnections,
		TCPMaxConnectionsPerClient: t.MaxConnectionsPerClient,
		RRL:                        c.rrl(),
	}
}

func (c *Config) validateDNSLimits() error {
	if err := c.rrl().Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), " ")
		return c.errorf("dns.rrl."+field, "%v", err)
	}
	t := c.DNS.TCP
	if t.MaxConnections < -1 {
		return c.errorf("dns.tcp.max_connections", "must be a number of connections, or -1 for no limit")
	}
	if t.MaxConnectionsPerClient < -1 {
		return c.errorf("dns.tcp.max_connections_per_client", "must be a number of connections, or -1 for no limit")
	}
	if t.IdleTimeout < 0 || t.IdleTimeout.D() > time.Hour {
		return c.errorf("dns.tcp.idle_timeout", "must be between 0 (the default, 10s) and 1h")
	}
	if t.ReadTimeout < 0 || t.ReadTimeout.D() > time.Minute {
		return c.errorf("dns.tcp.read_timeout", "must be between 0 (the default, 2s) and 1m")
	}
	return nil
}

// seconds is a duration written as a number of seconds (as BIND writes
// the RRL window) or as a Go duration string.
type seconds time.Duration

func (s *seconds) UnmarshalText(b []byte) error {
	if n, err := strconv.Atoi(string(b)); err == nil {
		*s = seconds(time.Duration(n) * time.Second)
		return nil
	}
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want seconds, such as 15, or a Go duration such as 15s)", b)
	}
	*s = seconds(d)
	return nil
}

// nodeName is node.name, else the host name reduced to the characters a
// checker name may have, else "meridian".
func (c *Config) nodeName() string {
	if c.Node.Name != "" {
		return c.Node.Name
	}
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.Len() > 63 {
		return "meridian"
	}
	return b.String()
}

// embeddedChecker reports whether the node runs its own checker.
func (c *Config) embeddedChecker() bool { return c.Checker.Embedded == nil || *c.Checker.Embedded }

// geoReload is how often the GeoIP files are checked for replacement.
func (c *Config) geoReload() time.Duration {
	if c.GeoIP.Reload == 0 {
		return 10 * time.Second
	}
	return c.GeoIP.Reload.D()
}

func (c *Config) errorf(key, format string, args ...any) error {
	if c.doc == nil {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	return c.doc.Errorf(key, format, args...)
}

func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	if host != "" && net.ParseIP(host) == nil {
		if _, err := net.LookupHost(host); err != nil {
			return fmt.Errorf("host %q is neither an IP address nor a resolvable name", host)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number within 0-65535", port)
	}
	return nil
}
