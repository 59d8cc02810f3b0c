package dnsserver

import (
	"slices"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The hot-path half of Metrics: atomic counters in rows that a Swap
// resolves once per snapshot, so that counting a query is an index into a
// slice and an atomic add (no map, no lock, no label strings, no
// allocation). Metrics.Collect turns them into series at scrape time.

// queryTypes are the values of the type label: every other query type
// counts as "other", so that clients cannot make series.
var queryTypes = [...]string{"A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "SRV", "PTR", "CAA", "ANY", "DS",
	"DNSKEY", "HTTPS", "SVCB", "other"}

const (
	nTypes    = len(queryTypes)
	typeOther = nTypes - 1
)

// typeIndexes maps a query type to its place in queryTypes; CAA (257) is
// the largest type listed.
var typeIndexes = func() (t [dns.TypeCAA + 1]uint8) {
	for i := range t {
		t[i] = uint8(typeOther)
	}
	for i, name := range queryTypes[:typeOther] {
		t[dns.StringToType[name]] = uint8(i)
	}
	return t
}()

func typeIndex(t uint16) int {
	if int(t) < len(typeIndexes) {
		return int(typeIndexes[t])
	}
	return typeOther
}

// rcodeNames are the values of the rcode label: the rcodes this server
// sends, and "other".
var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}

const (
	nRcodes      = len(rcodeNames)
	rcodeFormErr = 1
	rcodeNotImp  = 4
	rcodeBadVers = 6
	rcodeOther   = 7
)

func rcodeIndex(rc int) int {
	switch {
	case rc >= dns.RcodeSuccess && rc <= dns.RcodeRefused:
		return rc
	case rc == dns.RcodeBadVers:
		return rcodeBadVers
	}
	return rcodeOther
}

// transports are the values of the transport label, by the handler's tcp
// flag (0 for UDP).
var transports = [2]string{"udp", "tcp"}

func transportIndex(tcp bool) int {
	if tcp {
		return 1
	}
	return 0
}

// fallbackModes are the values of the mode label, by fallbackMode.
var fallbackModes = [3]string{fallbackAll.String(), fallbackNone.String(), fallbackBackup.String()}

// row counts the queries of one zone and service label pair: a served
// zone's static answers (service ""), one service, or the queries no zone
// answered (zone ""). Its cells are allocated per rcode on first use: a
// row is small until its names see unusual rcodes.
type row struct {
	key     rowKey // key.zone is the zone label
	service string // the service label, "name/type"; "" for a zone's row
	refs    int    // tables that use the row; guarded by Metrics.mu
	cells   [nRcodes]atomic.Pointer[cellBlock]
	// fallbacks count the service's decisions in which nothing was
	// healthy, by fallbackMode.
	fallbacks [len(fallbackModes)]atomic.Uint64
}

// cellBlock are the counters of one rcode, by transport and type.
type cellBlock [len(transports)][nTypes]atomic.Uint64

func (r *row) add(rc, tr, ty int) {
	b := r.cells[rc].Load()
	if b == nil {
		b = r.block(rc)
	}
	b[tr][ty].Add(1)
}

// block allocates the cells of rc, once.
func (r *row) block(rc int) *cellBlock {
	b := new(cellBlock)
	if r.cells[rc].CompareAndSwap(nil, b) {
		return b
	}
	return r.cells[rc].Load()
}

// dcRow counts the service answers that sent clients to one data center.
type dcRow struct {
	name    string
	refs    int // guarded by Metrics.mu
	answers atomic.Uint64
}

// snapStats are a snapshot's rows in one Metrics, indexed like the
// snapshot's zones, services and data centers. Server.Swap makes them;
// the handler reaches them with the snapshot in one atomic load.
type snapStats struct {
	m      *Metrics
	noZone *row
	zones  []*row // by zone.idx: static answers
	// svcs are the rows of the services, by service.idx, each made at
	// its service's first count (svcRow): with 100,000 services, rows
	// for all of them would hold 23 MiB, mostly for names never asked.
	svcs     []atomic.Pointer[row]
	detached bool // the snapshot is no longer served; guarded by Metrics.mu
	snap     *Snapshot
	dcs      []*dcRow // by datacenter.idx
}

// count counts one response: the row of the service that answered the
// query name, else of the zone, else the row of no zone.
func (st *snapStats) count(req, m *dns.Msg, tcp bool, q *query) {
	r := st.noZone
	switch {
	case q.svc != nil:
		r = st.svcRow(q.svc)
	case q.zone != nil:
		r = st.zones[q.zone.idx]
	}
	ty := typeOther
	if len(req.Question) == 1 {
		ty = typeIndex(req.Question[0].Qtype)
	}
	rc := rcodeIndex(m.Rcode)
	r.add(rc, transportIndex(tcp), ty)
	if q.rec != nil {
		q.rec.row, q.rec.rc, q.rec.ty = r, rc, ty
	}
}

// countRecord is what one answer counted into a snapStats: its row and
// cell, the data centers it answered, the fallback it took. A cached
// answer replays it on every hit.
type countRecord struct {
	row      *row
	rc, ty   int
	dcs      []*dcRow
	fallback *row // the service's row when nothing was healthy
	fb       fallbackMode
}

// replay counts one more answer like the recorded one, over transport tr.
func (rec *countRecord) replay(tr int) {
	if rec.row == nil {
		return
	}
	rec.row.add(rec.rc, tr, rec.ty)
	for _, d := range rec.dcs {
		d.answers.Add(1)
	}
	if rec.fallback != nil {
		rec.fallback.fallbacks[rec.fb].Add(1)
	}
}

// answered counts a service answer: once per data center among the chosen
// candidates.
func (st *snapStats) answered(c []cand, rec *countRecord) {
	var seen uint64 // data centers 0-63 by bit; the rest by a scan
	for i := range c {
		dc := c[i].ep.dc
		if dc.idx < 64 {
			if seen&(1<<dc.idx) != 0 {
				continue
			}
			seen |= 1 << dc.idx
		} else if answeredBefore(c[:i], dc) {
			continue
		}
		st.dcs[dc.idx].answers.Add(1)
		if rec != nil {
			rec.dcs = append(rec.dcs, st.dcs[dc.idx])
		}
	}
}

func answeredBefore(c []cand, dc *datacenter) bool {
	for i := range c {
		if c[i].ep.dc == dc {
			return true
		}
	}
	return false
}

// fallback counts a decision of svc in which nothing was healthy.
func (st *snapStats) fallback(svc *service, fb fallbackMode, rec *countRecord) {
	r := st.svcRow(svc)
	r.fallbacks[fb].Add(1)
	if rec != nil {
		rec.fallback, rec.fb = r, fb
	}
}

// svcRow is the row of svc, made at its first count.
func (st *snapStats) svcRow(svc *service) *row {
	if r := st.svcs[svc.idx].Load(); r != nil {
		return r
	}
	m := st.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := st.svcs[svc.idx].Load(); r != nil {
		return r
	}
	k := rowKey{svc.zone, svc.name, svc.typ}
	if !st.detached {
		r := m.row(k)
		st.svcs[svc.idx].Store(r)
		return r
	}
	// A query still answered from a snapshot already replaced counts in
	// the row of a served snapshot that has the service, made for it now
	// if none was yet: the count must not be lost in a swap. When no
	// served snapshot has the service, nothing would hold a row, and the
	// count goes with the service.
	if r := m.rows[k]; r != nil {
		return r
	}
	for _, live := range m.live {
		if s := live.snap.serviceNamed(k); s != nil {
			r := m.row(k)
			live.svcs[s.idx].Store(r)
			return r
		}
	}
	return &row{}
}

// rowKey identifies a row: a zone's (name and typ empty) or a service's.
type rowKey struct{ zone, name, typ string }

// serviceNamed is the snapshot's service of k's zone, name and type, nil
// when it has none.
func (s *Snapshot) serviceNamed(k rowKey) *service {
	z := s.zones[k.zone]
	if z == nil {
		return nil
	}
	if nd := z.nodes[k.name]; nd != nil {
		for _, svc := range nd.services {
			if svc.typ == k.typ {
				return svc
			}
		}
	}
	return nil
}

// attach makes snap's rows, creating those that do not exist yet; a nil
// snap has only the row of no zone.
func (m *Metrics) attach(snap *Snapshot) *snapStats {
	st := &snapStats{m: m, noZone: m.noZone, snap: snap}
	if snap == nil {
		return st
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = append(m.live, st)
	st.zones = make([]*row, len(snap.names))
	for i, apex := range snap.names {
		st.zones[i] = m.row(rowKey{zone: apex})
	}
	// A service counted under an earlier snapshot goes on in its row.
	st.svcs = make([]atomic.Pointer[row], len(snap.services))
	for i, svc := range snap.services {
		if r := m.rows[rowKey{svc.zone, svc.name, svc.typ}]; r != nil {
			r.refs++
			st.svcs[i].Store(r)
		}
	}
	st.dcs = make([]*dcRow, len(snap.dcList))
	for i, dc := range snap.dcList {
		d := m.dcs[dc.name]
		if d == nil {
			d = &dcRow{name: dc.name}
			m.dcs[dc.name] = d
		}
		d.refs++
		st.dcs[i] = d
	}
	return st
}

func (m *Metrics) row(k rowKey) *row {
	r := m.rows[k]
	if r == nil {
		r = &row{key: k}
		if k.name != "" {
			r.service = k.name + "/" + k.typ
		}
		m.rows[k] = r
	}
	r.refs++
	return r
}

// detach releases the rows of a snapshot no longer served. A row that no
// served snapshot uses is dropped: its series end (a service deleted, a
// zone removed), and a row made again later starts from zero, which
// Prometheus reads as a counter reset.
func (m *Metrics) detach(st *snapStats) {
	if st == nil || st.zones == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.detached = true
	m.live = slices.DeleteFunc(m.live, func(l *snapStats) bool { return l == st })
	release := func(r *row) {
		if r.refs--; r.refs == 0 {
			delete(m.rows, r.key)
		}
	}
	for _, r := range st.zones {
		release(r)
	}
	for i := range st.svcs {
		if r := st.svcs[i].Load(); r != nil {
			release(r)
		}
	}
	for _, d := range st.dcs {
		if d.refs--; d.refs == 0 {
			delete(m.dcs, d.name)
		}
	}
}
