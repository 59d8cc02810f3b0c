// Package statefile reads a desired-state file: the YAML that lists what
// should exist (zones with their zone files now; regions, data centers and
// services as later issues add them) and turns it into a model.State that
// store.Reconcile applies in one transaction.
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
	Zones []zone `yaml:"zones"`
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

// keyOf finds the state file key of the object a cross-object validation
// error is about, so that it can be given a line.
func keyOf(st *model.State, err error) string {
	if !errors.Is(err, model.ErrInvalid) {
		return ""
	}
	msg := err.Error()
	for i, z := range st.Zones {
		if bytes.Contains([]byte(msg), []byte(fmt.Sprintf("zone %q", z.Name))) {
			return fmt.Sprintf("zones[%d]", i)
		}
	}
	return ""
}
