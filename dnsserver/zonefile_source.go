package dnsserver

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// zoneSources is the fs.FS that ParseZoneFile gives the miekg/dns zone
// parser for $INCLUDE, and the book-keeping that finds the file and line of
// every record the parser returns.
//
// The parser reads through io.ByteReader byte by byte when its input has
// one, and returns a record right after reading the newline that ends it.
// So the source that read the last byte holds the record, and its newline
// count says where the record ends; the record starts at the first line
// after the previous record that is not blank, a comment or a directive.
type zoneSources struct {
	top     string // display name of the top file
	baseAbs string // absolute directory of the top file, "" without one
	baseRel string // directory of the top file as the caller named it

	byParserName map[string]*zoneSource
	last         *zoneSource
}

func newZoneSources(filename string) *zoneSources {
	zs := &zoneSources{top: filename, byParserName: map[string]*zoneSource{}}
	if filename != "" {
		if abs, err := filepath.Abs(filename); err == nil {
			zs.baseAbs = filepath.Dir(abs)
		}
		zs.baseRel = filepath.Dir(filename)
	}
	return zs
}

// parserName is the name the parser is given for the top file: absolute,
// so that $INCLUDE paths resolve against the file's directory whatever the
// working directory.
func (zs *zoneSources) parserName(filename string) string {
	if filename == "" {
		return ""
	}
	if abs, err := filepath.Abs(filename); err == nil {
		return abs
	}
	return filename
}

func (zs *zoneSources) add(parserName, display string, data []byte) *zoneSource {
	src := &zoneSource{parserName: parserName, display: display, data: data, set: zs}
	zs.byParserName[parserName] = src
	zs.last = src
	return src
}

// Open implements fs.FS for $INCLUDE. The parser passes the absolute path
// with its leading slash removed, and uses that name in its errors.
func (zs *zoneSources) Open(name string) (fs.File, error) {
	abs := filepath.FromSlash("/" + name)
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	display := abs
	if zs.baseAbs != "" {
		if rel, err := filepath.Rel(zs.baseAbs, abs); err == nil && !strings.HasPrefix(rel, "..") {
			display = filepath.Join(zs.baseRel, rel)
		}
	}
	return zs.add(name, display, data), nil // the parser names the file name in errors
}

// zoneSource is one file being parsed. It implements fs.File and
// io.ByteReader.
type zoneSource struct {
	parserName string
	display    string
	data       []byte
	pos        int
	newlines   int // newlines read so far
	lastEnd    int // line on which the previous record of this file ended
	lines      [][]byte
	set        *zoneSources
}

func (s *zoneSource) ReadByte() (byte, error) {
	if s.pos >= len(s.data) {
		return 0, io.EOF
	}
	c := s.data[s.pos]
	s.pos++
	if c == '\n' {
		s.newlines++
	}
	s.set.last = s
	return c, nil
}

func (s *zoneSource) Read(p []byte) (int, error) {
	if s.pos >= len(s.data) {
		return 0, io.EOF
	}
	n := copy(p, s.data[s.pos:])
	s.newlines += bytes.Count(p[:n], []byte{'\n'})
	s.pos += n
	s.set.last = s
	return n, nil
}

func (s *zoneSource) Close() error { return nil }

func (s *zoneSource) Stat() (fs.FileInfo, error) { return sourceInfo{s}, nil }

// recordLine returns the line on which the record just returned by the
// parser starts.
func (s *zoneSource) recordLine() int {
	end := s.newlines
	if s.pos == 0 || s.data[s.pos-1] != '\n' {
		end++ // the record ends at the end of the input, not at a newline
	}
	start := end
	for n := s.lastEnd + 1; n < end; n++ {
		t := s.lineText(n)
		if t != "" && t[0] != ';' && t[0] != '$' {
			start = n
			break
		}
	}
	s.lastEnd = end
	return start
}

// lineText returns line n (1-based), trimmed.
func (s *zoneSource) lineText(n int) string {
	if s.lines == nil {
		s.lines = bytes.Split(s.data, []byte{'\n'})
	}
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return strings.TrimSpace(string(s.lines[n-1]))
}

type sourceInfo struct{ s *zoneSource }

func (i sourceInfo) Name() string       { return filepath.Base(i.s.parserName) }
func (i sourceInfo) Size() int64        { return int64(len(i.s.data)) }
func (i sourceInfo) Mode() fs.FileMode  { return 0o444 }
func (i sourceInfo) ModTime() time.Time { return time.Time{} }
func (i sourceInfo) IsDir() bool        { return false }
func (i sourceInfo) Sys() any           { return nil }
