package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// TestSnapshotSkipsUnchangedKinds: after a write of something the DNS
// answers do not depend on (a checker's report), the snapshot is neither
// built nor its state read; after a verdict changes, it is.
func TestSnapshotSkipsUnchangedKinds(t *testing.T) {
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	state := &model.State{
		Zones:       []model.Zone{{Name: "gslb.test.", Nameservers: []model.Nameserver{{Name: "ns1.example.net."}}}},
		Datacenters: []model.Datacenter{{Name: "fra", Location: model.Location{Lat: 50, Lon: 8}}},
		Services: []model.Service{{Name: "app.gslb.test.", Type: "A", Policy: model.Policy{Preset: "all"},
			Endpoints: []model.Endpoint{{Datacenter: "fra", Address: "192.0.2.1"}}}},
	}
	if _, _, err := store.Reconcile(t.Context(), b, model.SourceStateFile, state, store.ReconcileOptions{}); err != nil {
		t.Fatal(err)
	}
	st := &storetest.Counting{Store: b}
	snap, in, err := buildSnapshot(t.Context(), st, dnsserver.BuildOptions{})
	if err != nil || snap == nil {
		t.Fatalf("first build: %v", err)
	}
	if _, err := b.Update(t.Context(), func(tx store.Tx) error {
		return store.Put(tx, &model.Checker{Name: "c1", LastSeen: time.Now()}, 0)
	}); err != nil {
		t.Fatal(err)
	}
	snap, in2, err := buildSnapshot(t.Context(), st, dnsserver.BuildOptions{}, in)
	if err != nil || snap != nil {
		t.Fatalf("after a checker's report: snapshot %v, err %v; want none", snap, err)
	}
	if n := st.Lists(model.KindService); n != 1 {
		t.Fatalf("services read %d times, want once (at the first build)", n)
	}
	if _, err := b.Update(t.Context(), func(tx store.Tx) error {
		return store.Put(tx, &model.Verdict{Service: "app.gslb.test./A", Endpoint: "192.0.2.1", Health: model.HealthDown}, 0)
	}); err != nil {
		t.Fatal(err)
	}
	snap, _, err = buildSnapshot(t.Context(), st, dnsserver.BuildOptions{}, in2)
	if err != nil || snap == nil {
		t.Fatalf("after a verdict change: snapshot %v, err %v; want a new one", snap, err)
	}
}
