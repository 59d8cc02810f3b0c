//go:build !linux

package dnsserver

import (
	"net"

	"github.com/miekg/dns"
)

// batchReader: batched system calls are Linux's; elsewhere fastReader
// reads one packet per call.
func (s *Server) batchReader(*net.UDPConn, dns.Reader) dns.Reader { return nil }
