package yamlfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type testConfig struct {
	Name   string `yaml:"name"`
	Listen struct {
		Addrs []string `yaml:"addrs"`
		Port  int      `yaml:"port"`
	} `yaml:"listen"`
}

func TestDecodeErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown top-level key", "name: a\nbogus: 1\n", `c.yaml:2: unknown key "bogus"`},
		{"unknown nested key", "listen:\n  addrs: [a]\n  prot: 3\n", `c.yaml:3: unknown key "prot"`},
		{"wrong type", "listen:\n  port: eighty\n", `c.yaml:2: "eighty" is not a valid whole number (int)`},
		{"syntax error", "name: a\n  b: : c\n", `c.yaml:2: `},
		{"not a mapping", "- a\n- b\n", `c.yaml:1: the document must be a mapping`},
		{"duplicate key", "name: a\nname: b\n", `c.yaml:2: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			_, err := Decode("c.yaml", []byte(tt.doc), &c)
			if err == nil {
				t.Fatalf("Decode(%q) succeeded, want error %q", tt.doc, tt.want)
			}
			var ye *Error
			if !errors.As(err, &ye) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEmptyDocument(t *testing.T) {
	c := testConfig{Name: "default"}
	doc, err := Decode("c.yaml", []byte("# only a comment\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "default" {
		t.Errorf("empty document changed a default: %q", c.Name)
	}
	if got := doc.Errorf("listen.port", "bad"); got.Error() != "c.yaml: listen.port: bad" {
		t.Errorf("Errorf on an empty document = %q", got)
	}
}

func TestLineOfKey(t *testing.T) {
	doc := "name: a\nlisten:\n  addrs:\n    - x\n    - y\n  port: 3\n"
	var c testConfig
	d, err := Decode("c.yaml", []byte(doc), &c)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{
		"name": 1, "listen": 3, "listen.addrs[1]": 5, "listen.port": 6,
		"listen.addrs[7]": 4, // missing index: the closest parent (the list)
		"missing":         1,
	} {
		if got := d.Line(key); got != want {
			t.Errorf("Line(%q) = %d, want %d", key, got, want)
		}
	}
	if got := d.Errorf("listen.addrs[0]", "%q is bad", "x").Error(); got != `c.yaml:4: listen.addrs[0]: "x" is bad` {
		t.Errorf("Errorf = %q", got)
	}
}

type durationValue struct{ d string }

func (v *durationValue) UnmarshalText(b []byte) error {
	if string(b) != "1s" {
		return fmt.Errorf("invalid duration %q", b)
	}
	v.d = string(b)
	return nil
}

// A value's own decoder reports no line; the error still gets one.
func TestTextUnmarshalerErrorGetsLine(t *testing.T) {
	var c struct {
		A string        `yaml:"a"`
		B durationValue `yaml:"b"`
	}
	_, err := Decode("c.yaml", []byte("a: x\nb: often\n"), &c)
	if err == nil || err.Error() != `c.yaml:2: invalid duration "often"` {
		t.Errorf("error = %v", err)
	}
}

// TestTreeOnlyForErrors: a valid document is decoded without building the
// node tree that error lines need (hundreds of megabytes for a large
// state file); the first lookup builds it and finds the line.
func TestTreeOnlyForErrors(t *testing.T) {
	var c testConfig
	doc, err := Decode("c.yaml", []byte("name: x\nlisten:\n  addrs: [a, b]\n  port: 53\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	if doc.root != nil {
		t.Fatal("the node tree was built for a valid document")
	}
	if line := doc.Line("listen.port"); line != 4 {
		t.Fatalf("listen.port on line %d, want 4", line)
	}
	if doc.root == nil {
		t.Fatal("no node tree after a lookup")
	}
	// A document that is not a mapping still says so, with its line.
	_, err = Decode("c.yaml", []byte("\n- a\n- b\n"), &c)
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || !strings.Contains(e.Msg, "must be a mapping") {
		t.Fatalf("a list as the document: %v", err)
	}
}
