package dnsserver

import (
	"errors"
	"strconv"
)

// Sentinel errors of the package. Errors returned by ParseZoneFile and
// Build wrap one of them, so callers can tell a bad input from a failure of
// the machine.
var (
	// ErrZoneFile is wrapped by every *ZoneFileError.
	ErrZoneFile = errors.New("dnsserver: bad zone file")
	// ErrInvalidRecord is wrapped by Build errors about a record of a zone.
	ErrInvalidRecord = errors.New("dnsserver: invalid record")
	// ErrInvalidGSLB is wrapped by Build errors about a service, a region
	// or a data center.
	ErrInvalidGSLB = errors.New("dnsserver: invalid service, region or data center")
)

// ZoneFileError is an error in a zone file, located by file and line.
type ZoneFileError struct {
	// File is the file the error is in: the name given to ParseZoneFile, or
	// the $INCLUDE file, named relative to the including file's directory
	// the same way the including file was named.
	File string
	// Line is 1-based.
	Line int
	// Record is the text of the offending line, trimmed of surrounding
	// blanks. It is empty when the line is not known.
	Record string
	// Err says what is wrong.
	Err string
}

// Error returns `FILE:LINE: MSG (in record "RECORD")`.
func (e *ZoneFileError) Error() string {
	s := e.File
	if s == "" {
		s = "zone file"
	}
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	s += ": " + e.Err
	if e.Record != "" {
		s += " (in record " + strconv.Quote(e.Record) + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrZoneFile) true.
func (e *ZoneFileError) Unwrap() error { return ErrZoneFile }
