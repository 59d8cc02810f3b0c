// Package yamlfile decodes YAML documents strictly (unknown keys are
// errors) and reports every error with the file, line and key it concerns,
// so that an operator can go straight to the mistake. Meridian's config
// file and state file both use it.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at a place in a YAML file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted path such as "dns.listen[1]"; may be empty
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Doc is a decoded document, kept to look up the line of a key when a
// value turns out to be invalid after decoding. Its node tree, which
// only errors need, is parsed on the first lookup: for a state file of
// 100,000 services (27 MB of YAML) the tree is hundreds of megabytes that
// a valid file never needs.
type Doc struct {
	File string
	data []byte
	once sync.Once
	root *yaml.Node // the document's top mapping; nil for an empty file
}

// Root returns the document's top node, parsing it on the first call; nil
// for an empty document.
func (d *Doc) Root() *yaml.Node {
	if d == nil {
		return nil
	}
	d.once.Do(func() {
		var root yaml.Node
		if yaml.Unmarshal(d.data, &root) == nil && len(root.Content) > 0 {
			d.root = root.Content[0]
		}
	})
	return d.root
}

var (
	lineMsg      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type (?s:.*)$`)
	unmarshalMsg = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	quoted       = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// Decode decodes data, read from file, into out. Unknown keys, values of
// the wrong type, duplicate keys and syntax errors are returned as *Error
// (several are joined with errors.Join). An empty document leaves out
// untouched.
func Decode(file string, data []byte, out any) (*Doc, error) {
	doc := &Doc{File: file, data: data}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		if root := doc.Root(); root != nil && root.Kind != yaml.MappingNode {
			return nil, &Error{File: file, Line: root.Line, Msg: "the document must be a mapping of keys to values"}
		}
		return nil, doc.convert(err)
	}
	return doc, nil
}

// convert turns a yaml error into *Error values with file and line.
func (d *Doc) convert(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, d.lineError(msg))
		}
		return errors.Join(errs...)
	}
	return d.lineError(err.Error())
}

func (d *Doc) lineError(msg string) *Error {
	e := &Error{File: d.File, Msg: strings.TrimPrefix(msg, "yaml: ")}
	m := lineMsg.FindStringSubmatch(msg)
	if m == nil {
		// Errors of a value's own decoder (a TextUnmarshaler such as a
		// duration) carry no line: find the value they quote.
		if q := quoted.FindStringSubmatch(msg); q != nil {
			if v, err := strconv.Unquote(q[0]); err == nil {
				e.Line = findScalar(d.Root(), v)
			}
		}
		return e
	}
	e.Line, _ = strconv.Atoi(m[1])
	e.Msg = m[2]
	if f := unknownField.FindStringSubmatch(e.Msg); f != nil {
		e.Msg = fmt.Sprintf("unknown key %q", f[1])
	} else if u := unmarshalMsg.FindStringSubmatch(e.Msg); u != nil {
		e.Msg = fmt.Sprintf("%q is not a valid %s", u[2], friendlyType(u[3]))
	}
	return e
}

func friendlyType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "whole number (" + goType + ")"
	case strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean (true or false)"
	}
	return goType
}

// findScalar returns the line of the first scalar whose value is v, or 0.
func findScalar(n *yaml.Node, v string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.ScalarNode && n.Value == v {
		return n.Line
	}
	for _, c := range n.Content {
		if line := findScalar(c, v); line > 0 {
			return line
		}
	}
	return 0
}

// Errorf returns an *Error for the value at key, a dotted path with list
// indexes ("zones[0].nameservers[1].address"). The line is that of the
// value when it is in the document, else that of the closest parent found.
func (d *Doc) Errorf(key, format string, args ...any) error {
	return &Error{File: d.File, Line: d.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Line returns the line of the value at key, or of its closest ancestor
// present in the document, or 0.
func (d *Doc) Line(key string) int {
	root := d.Root()
	if root == nil {
		return 0
	}
	n, line := root, root.Line
	for _, part := range splitPath(key) {
		next := child(n, part)
		if next == nil {
			break
		}
		n, line = next, next.Line
	}
	return line
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(key string) []string {
	var parts []string
	for _, seg := range strings.Split(key, ".") {
		for seg != "" {
			i := strings.IndexByte(seg, '[')
			switch {
			case i < 0:
				parts, seg = append(parts, seg), ""
			case i > 0:
				parts, seg = append(parts, seg[:i]), seg[i:]
			default:
				j := strings.IndexByte(seg, ']')
				if j < 0 {
					return append(parts, seg)
				}
				parts, seg = append(parts, seg[:j+1]), seg[j+1:]
			}
		}
	}
	return parts
}

func child(n *yaml.Node, part string) *yaml.Node {
	if strings.HasPrefix(part, "[") {
		i, err := strconv.Atoi(strings.Trim(part, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == part {
			return n.Content[i+1]
		}
	}
	return nil
}
