// Package statefile reads a desired-state file: the YAML that lists what
// should exist (zones with their zone files, regions, data centers and
// services) and turns it into a model.State that store.Reconcile applies
// in one transaction.
//
// Zone files are parsed by a ZoneParser the caller supplies (dnsserver's),
// so that DNS wire-format knowledge stays out of store.
package statefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/yamlfile"
)

// ZoneParser parses an RFC 1035 master file read from r (named filename in
// errors) with the given origin, giving records without a TTL defaultTTL.
// Its errors name the file and line.
type ZoneParser func(r io.Reader, origin, filename string, defaultTTL uint32) ([]model.Record, error)

// file is the on-disk layout. Its YAML keys are a contract with operators
// and external checks.
type file struct {
	Zones       []zone       `yaml:"zones"`
	Regions     []region     `yaml:"regions"`
	Datacenters []datacenter `yaml:"datacenters"`
	Services    []service    `yaml:"services"`
	Notify      []webhook    `yaml:"notify"`
}

type webhook struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

type region struct {
	Name       string   `yaml:"name"`
	Countries  []string `yaml:"countries"`
	Continents []string `yaml:"continents"`
	Networks   []string `yaml:"networks"`
}

type datacenter struct {
	Name      string         `yaml:"name"`
	Region    string         `yaml:"region"`
	Location  model.Location `yaml:"location"`
	Drain     bool           `yaml:"drain"`
	ForceDown bool           `yaml:"force_down"`
}

type service struct {
	Name       string     `yaml:"name"`
	Type       string     `yaml:"type"`
	TTL        uint32     `yaml:"ttl"`
	Policy     any        `yaml:"policy"` // a preset name or a list of steps
	MaxAnswers int        `yaml:"max_answers"`
	Fallback   any        `yaml:"fallback"` // all, none or {backup: [...]}
	Endpoints  []endpoint `yaml:"endpoints"`
	Check      *check     `yaml:"check"`
}

// check is model.Check as written in a state file; durations are Go
// duration strings and quorum a rule or a bare number.
type check struct {
	Type         string         `yaml:"type"`
	Port         int            `yaml:"port"`
	Path         string         `yaml:"path"`
	Host         string         `yaml:"host"`
	ExpectStatus []int          `yaml:"expect_status"`
	ExpectBody   string         `yaml:"expect_body"`
	Interval     model.Duration `yaml:"interval"`
	Timeout      model.Duration `yaml:"timeout"`
	Rise         int            `yaml:"rise"`
	Fall         int            `yaml:"fall"`
	Quorum       string         `yaml:"quorum"`
	Method       string         `yaml:"method"`
	ServerName   string         `yaml:"server_name"`
	SkipVerify   bool           `yaml:"skip_verify"`
	QueryName    string         `yaml:"query_name"`
	QueryType    string         `yaml:"query_type"`
	ExpectRcode  string         `yaml:"expect_rcode"`
	ExpectAnswer string         `yaml:"expect_answer"`
}

type endpoint struct {
	Datacenter  string `yaml:"datacenter"`
	Address     string `yaml:"address"`
	Weight      *int   `yaml:"weight"` // absent means 1; 0 means never chosen by weight
	Priority    int    `yaml:"priority"`
	CheckTarget string `yaml:"check_target"`
	Drain       bool   `yaml:"drain"`
	ForceDown   bool   `yaml:"force_down"`
}

type zone struct {
	Name        string             `yaml:"name"`
	File        string             `yaml:"file"`
	TTL         uint32             `yaml:"ttl"`
	Hostmaster  string             `yaml:"hostmaster"`
	Nameservers []model.Nameserver `yaml:"nameservers"`
	SOA         model.SOATimers    `yaml:"soa"`
}

// Load reads the state file at path. Zone files are resolved relative to
// the state file's directory. Every error names the file and line it is
// about; nothing is returned unless the whole state is valid.
func Load(path string, parseZone ZoneParser) (*model.State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	return Parse(path, data, parseZone)
}

// Parse is Load for a document already read; path still names it in errors
// and anchors relative zone file names.
func Parse(path string, data []byte, parseZone ZoneParser) (*model.State, error) {
	var f file
	doc, err := yamlfile.Decode(path, data, &f)
	if err != nil {
		return nil, err
	}
	st := &model.State{}
	for i, z := range f.Zones {
		key := fmt.Sprintf("zones[%d]", i)
		mz, err := z.model(doc, key, filepath.Dir(path), parseZone)
		if err != nil {
			return nil, err
		}
		st.Zones = append(st.Zones, *mz)
	}
	for i, r := range f.Regions {
		mr := model.Region{Name: r.Name, Countries: r.Countries, Continents: r.Continents, Networks: r.Networks}
		if err := mr.Validate(); err != nil {
			return nil, doc.Errorf(fmt.Sprintf("regions[%d]", i), "%v", err)
		}
		st.Regions = append(st.Regions, mr)
	}
	for i, d := range f.Datacenters {
		md := model.Datacenter{Name: d.Name, Region: d.Region, Location: d.Location, Drain: d.Drain, ForceDown: d.ForceDown}
		if err := md.Validate(); err != nil {
			return nil, doc.Errorf(fmt.Sprintf("datacenters[%d]", i), "%v", err)
		}
		st.Datacenters = append(st.Datacenters, md)
	}
	for i, svc := range f.Services {
		ms, err := svc.model(doc, fmt.Sprintf("services[%d]", i))
		if err != nil {
			return nil, err
		}
		st.Services = append(st.Services, *ms)
	}
	for i, w := range f.Notify {
		mw := model.Webhook{Name: w.Name, URL: w.URL, Secret: w.Secret}
		if mw.Name == "" {
			mw.Name = model.WebhookName(w.URL)
		}
		if err := mw.Validate(); err != nil {
			return nil, doc.Errorf(fmt.Sprintf("notify[%d]", i), "%v", err)
		}
		st.Notify = append(st.Notify, mw)
	}
	if err := st.Validate(); err != nil {
		return nil, doc.Errorf(keyOf(st, err), "%v", err)
	}
	return st, nil
}

func (z zone) model(doc *yamlfile.Doc, key, dir string, parseZone ZoneParser) (*model.Zone, error) {
	if z.Name == "" {
		return nil, doc.Errorf(key, "a zone needs a name")
	}
	if !model.ValidName(z.Name) {
		return nil, doc.Errorf(key+".name", "%q is not a valid domain name", z.Name)
	}
	mz := &model.Zone{
		Name:        model.CanonicalName(z.Name),
		TTL:         z.TTL,
		Hostmaster:  z.Hostmaster,
		Nameservers: make([]model.Nameserver, len(z.Nameservers)),
		SOA:         z.SOA,
	}
	for i, ns := range z.Nameservers {
		if !model.ValidName(ns.Name) {
			return nil, doc.Errorf(fmt.Sprintf("%s.nameservers[%d].name", key, i), "%q is not a valid domain name", ns.Name)
		}
		mz.Nameservers[i] = model.Nameserver{Name: model.CanonicalName(ns.Name), Address: ns.Address}
	}
	if z.File != "" {
		name := z.File
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, doc.Errorf(key+".file", "zone %s: %v", mz.Name, err)
		}
		if mz.Records, err = parseZone(bytes.NewReader(data), mz.Name, name, mz.EffectiveTTL()); err != nil {
			return nil, err
		}
	}
	if err := mz.Validate(); err != nil {
		return nil, doc.Errorf(key, "%v", err)
	}
	return mz, nil
}

func (s service) model(doc *yamlfile.Doc, key string) (*model.Service, error) {
	if !model.ValidName(s.Name) {
		return nil, doc.Errorf(key+".name", "%q is not a valid domain name", s.Name)
	}
	policy, err := model.PolicyFromValue(s.Policy)
	if err != nil {
		return nil, doc.Errorf(key+".policy", "%v", err)
	}
	fallback, err := model.FallbackFromValue(s.Fallback)
	if err != nil {
		return nil, doc.Errorf(key+".fallback", "%v", err)
	}
	ms := &model.Service{
		Name:       model.CanonicalName(s.Name),
		Type:       strings.ToUpper(s.Type),
		TTL:        s.TTL,
		Policy:     policy,
		MaxAnswers: s.MaxAnswers,
		Fallback:   fallback,
	}
	for _, e := range s.Endpoints {
		weight := 1
		if e.Weight != nil {
			weight = *e.Weight
		}
		addr := e.Address
		if ms.Type == "CNAME" {
			addr = model.CanonicalName(addr)
		}
		ms.Endpoints = append(ms.Endpoints, model.Endpoint{
			Datacenter: e.Datacenter, Address: addr, Weight: weight, Priority: e.Priority,
			CheckTarget: e.CheckTarget, Drain: e.Drain, ForceDown: e.ForceDown,
		})
	}
	if c := s.Check; c != nil {
		ms.Check = &model.Check{
			Type: strings.ToLower(c.Type), Port: c.Port, Path: c.Path, Host: c.Host,
			ExpectStatus: c.ExpectStatus, ExpectBody: c.ExpectBody,
			Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall,
			Quorum: model.Quorum(c.Quorum), Method: strings.ToUpper(c.Method),
			ServerName: c.ServerName, SkipVerify: c.SkipVerify,
			QueryName: c.QueryName, QueryType: strings.ToUpper(c.QueryType),
			ExpectRcode: strings.ToUpper(c.ExpectRcode), ExpectAnswer: c.ExpectAnswer,
		}
	}
	if err := ms.Validate(); err != nil {
		field := key
		if strings.Contains(err.Error(), ": check: ") {
			field = key + ".check"
		}
		return nil, doc.Errorf(field, "%v", err)
	}
	return ms, nil
}

// keyOf finds the state file key of the object a cross-object validation
// error is about, so that it can be given a line.
func keyOf(st *model.State, err error) string {
	if !errors.Is(err, model.ErrInvalid) {
		return ""
	}
	msg := err.Error()
	find := func(list string, kind model.Kind, names []string) string {
		for i, name := range names {
			if strings.Contains(msg, fmt.Sprintf("%s %q", kind, name)) {
				return fmt.Sprintf("%s[%d]", list, i)
			}
		}
		return ""
	}
	var zones, regions, dcs, services []string
	for _, z := range st.Zones {
		zones = append(zones, z.Name)
	}
	for _, r := range st.Regions {
		regions = append(regions, r.Name)
	}
	for _, d := range st.Datacenters {
		dcs = append(dcs, d.Name)
	}
	for _, s := range st.Services {
		services = append(services, s.Name)
	}
	for _, k := range []string{
		find("services", model.KindService, services), find("datacenters", model.KindDatacenter, dcs),
		find("regions", model.KindRegion, regions), find("zones", model.KindZone, zones),
	} {
		if k != "" {
			return k
		}
	}
	return ""
}
