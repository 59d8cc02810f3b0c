package dnsserver

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meridian-gslb/meridian/store/model"
)

// WriteText writes the explanation for people, as `meridian explain`
// prints it: the query, the client and its location, each step of each
// service with its candidates before and after, the answer, its TTL and
// ECS scope.
func (e *Explanation) WriteText(w io.Writer) error {
	p := &textWriter{w: w}
	q := e.Query
	p.f("query:     %s %s from %s", q.Name, q.Type, orNone(q.Client))
	if q.ECS != "" {
		p.f(" with ECS %s", q.ECS)
	}
	p.f("\n")
	p.f("result:    %s, %s", e.Rcode, strings.ReplaceAll(e.Kind, "_", " "))
	if e.Zone != "" {
		p.f(" in zone %s", e.Zone)
	}
	p.f("\n")
	if e.Note != "" {
		p.f("note:      %s\n", e.Note)
	}
	if e.Client.Source != "" {
		p.f("client:    %s (%s)\n", orNone(e.Client.Address), e.Client.Source)
	}
	if l := e.Location; l != nil {
		if l.Found {
			var parts []string
			for _, s := range []string{l.Country, l.Continent, l.Subdivision} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			if l.Lat != nil && l.Lon != nil {
				parts = append(parts, fmt.Sprintf("%.4f,%.4f", *l.Lat, *l.Lon))
			}
			if l.ASN != 0 {
				parts = append(parts, fmt.Sprintf("AS%d %s", l.ASN, l.ASOrg))
			}
			p.f("location:  %s", strings.Join(parts, " "))
		} else {
			p.f("location:  not found")
		}
		if l.Network != "" {
			p.f(" (database network %s)", l.Network)
		}
		p.f("\n")
	}
	if r := e.Region; r != nil {
		p.f("region:    %s (by %s)\n", r.Name, r.How)
	} else if e.Location != nil {
		p.f("region:    none\n")
	}
	for _, svc := range e.Services {
		p.widths(svc)
		p.f("service:   %s %s, policy %s, fallback %s", svc.Name, svc.Type, svc.Policy, svc.Fallback)
		if len(svc.Backup) > 0 {
			p.f(" [%s]", strings.Join(svc.Backup, " "))
		}
		p.f(", ttl %d", svc.TTL)
		if svc.MaxAnswers > 0 {
			p.f(", max_answers %d", svc.MaxAnswers)
		}
		p.f("\n")
		for i, st := range svc.Steps {
			p.f("  %d. %s", i+1, st.Step)
			if st.Args != "" {
				p.f(" %s", st.Args)
			}
			p.f("\n")
			p.candidates("before", st.Before)
			p.candidates("after", st.After)
			if st.Note != "" {
				p.f("       note:   %s\n", st.Note)
			}
			if st.ECSScope != nil {
				p.f("       ecs scope raised to /%d\n", *st.ECSScope)
			}
		}
		if svc.FallbackApplied != "" {
			p.f("  fallback applied: %s\n", svc.FallbackApplied)
		}
		if len(svc.Chosen) > 0 {
			p.candidates("chosen", svc.Chosen)
		}
	}
	p.f("answer:\n")
	if len(e.Answer) == 0 {
		p.f("  (no records)\n")
	}
	for _, rr := range e.Answer {
		p.f("  %s\n", rr)
	}
	if len(e.Authority) > 0 {
		p.f("authority:\n")
		for _, rr := range e.Authority {
			p.f("  %s\n", rr)
		}
	}
	if len(e.Additional) > 0 {
		p.f("additional:\n")
		for _, rr := range e.Additional {
			p.f("  %s\n", rr)
		}
	}
	p.f("ttl:       %d\n", e.TTL)
	if e.ECSScope != nil {
		p.f("ecs scope: /%d\n", *e.ECSScope)
	} else {
		p.f("ecs scope: none (no ECS in the response)\n")
	}
	return p.err
}

// textWriter writes until the first error and keeps it.
type textWriter struct {
	w   io.Writer
	err error
	// dc, addr and health are the column widths of a service's
	// candidates.
	dc, addr, health int
}

// widths sizes the candidate columns for svc (fmt pads by code points).
func (p *textWriter) widths(svc *ExplainedService) {
	p.dc, p.addr, p.health = 0, 0, 0
	lists := [][]ExplainedCandidate{svc.Chosen}
	for _, st := range svc.Steps {
		lists = append(lists, st.Before, st.After)
	}
	for _, l := range lists {
		for _, c := range l {
			p.dc, p.addr, p.health = max(p.dc, len(c.Datacenter)), max(p.addr, len(c.Address)), max(p.health, utf8.RuneCountInString(c.healthText()))
		}
	}
}

// healthText is the candidate's health with the override that decided
// it: "drained (override by alice: rack maintenance)", or "(datacenter
// override by …)" when it is the data center's.
func (c *ExplainedCandidate) healthText() string {
	o := c.Override
	if o == nil {
		return c.Health
	}
	var b strings.Builder
	b.WriteString(c.Health)
	b.WriteString(" (")
	if strings.HasPrefix(o.Target, model.TargetDatacenter+"/") {
		b.WriteString("datacenter ")
	}
	b.WriteString("override")
	if o.CreatedBy != "" {
		b.WriteString(" by ")
		b.WriteString(oneLine(o.CreatedBy))
	}
	b.WriteString(": ")
	b.WriteString(oneLine(o.Reason))
	b.WriteString(")")
	return b.String()
}

// oneLine keeps an operator's text on one line of the rendering.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func (p *textWriter) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *textWriter) candidates(label string, list []ExplainedCandidate) {
	if len(list) == 0 {
		p.f("       %-7s (none)\n", label+":")
		return
	}
	for i, c := range list {
		head := ""
		if i == 0 {
			head = label + ":"
		}
		p.f("       %-7s %-*s  %-*s  %-*s  weight %d, priority %d", head, p.dc, c.Datacenter, p.addr, c.Address,
			p.health, c.healthText(), c.Weight, c.Priority)
		if c.Region != "" {
			p.f(", region %s", c.Region)
		}
		if c.DistanceKM != nil {
			p.f(", %s km", strconv.FormatFloat(*c.DistanceKM, 'f', 1, 64))
		}
		p.f("\n")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
