package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/api/client"
)

func TestJSONDiff(t *testing.T) {
	rec := func(name, data string) string {
		return fmt.Sprintf(`{"name":%q,"type":"A","ttl":300,"data":%q}`, name, data)
	}
	recs := func(rs ...string) string { return "[" + strings.Join(rs, ",") + "]" }
	a, b, c, d := rec("a.", "192.0.2.1"), rec("b.", "192.0.2.2"), rec("c.", "192.0.2.3"), rec("d.", "192.0.2.4")
	tests := []struct {
		name          string
		before, after string
		want          []string
	}{
		{"meta only", `{"revision":3,"managed_by":"apply","ttl":30}`, `{"ttl":30}`, nil},
		{"scalar", `{"ttl":30,"name":"x"}`, `{"ttl":60,"name":"x"}`, []string{"ttl: 30 -> 60"}},
		{"nested", `{"soa":{"retry":600,"expire":1}}`, `{"soa":{"retry":900,"expire":1}}`, []string{"soa.retry: 600 -> 900"}},
		{"field added and removed", `{"a":1}`, `{"b":"x"}`, []string{"- a: 1", `+ b: "x"`}},
		{"element inserted", `{"records":` + recs(a, b, c) + `}`, `{"records":` + recs(a, d, b, c) + `}`,
			[]string{"+ records[1]: " + compactOf(d)}},
		{"element removed", `{"records":` + recs(a, b, c) + `}`, `{"records":` + recs(a, c) + `}`,
			[]string{"- records[1]: " + compactOf(b)}},
		{"element changed", `{"records":` + recs(a, b, c) + `}`, `{"records":` + recs(a, rec("b.", "192.0.2.9"), c) + `}`,
			[]string{`records[1].data: "192.0.2.2" -> "192.0.2.9"`}},
		{"list of strings", `{"continents":["EU","AF"]}`, `{"continents":["EU"]}`, []string{`- continents[1]: "AF"`}},
		{"type changes", `{"policy":"geo"}`, `{"policy":["healthy",{"first":1}]}`, []string{`policy: "geo" -> ["healthy",{"first":1}]`}},
		{"no HTML escaping", `{"detail":"a"}`, `{"detail":"<b>&"}`, []string{`detail: "a" -> "<b>&"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jsonDiff(json.RawMessage(tt.before), json.RawMessage(tt.after))
			if !slices.Equal(got, tt.want) {
				t.Errorf("jsonDiff:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func compactOf(s string) string {
	v, err := decodeJSONValue(json.RawMessage(s))
	if err != nil {
		panic(err)
	}
	return compactJSON(v)
}

// TestJSONDiffLargeLists: lists too long to match element by element are
// still compared, position by position, without quadratic work.
func TestJSONDiffLargeLists(t *testing.T) {
	var x, y []string
	for i := range 5000 {
		x = append(x, fmt.Sprintf(`"x%d"`, i))
		y = append(y, fmt.Sprintf(`"y%d"`, i))
	}
	got := jsonDiff(json.RawMessage(`{"l":[`+strings.Join(x, ",")+`]}`), json.RawMessage(`{"l":[`+strings.Join(y, ",")+`]}`))
	if len(got) != 5000 || got[0] != `l[0]: "x0" -> "y0"` {
		t.Errorf("%d lines, first %q", len(got), got[0])
	}
}

func TestWriteApplyResult(t *testing.T) {
	res := &client.ApplyResult{
		Revision: 7, Summary: "1 created, 1 updated, 1 deleted, 1 adopted",
		Changes: []client.Change{
			{Action: "delete", Kind: "region", Name: "old", Before: json.RawMessage(`{"name":"old"}`)},
			{Action: "create", Kind: "datacenter", Name: "sin", After: json.RawMessage(`{"name":"sin"}`)},
			{Action: "update", Kind: "service", Name: "app.example.test./A",
				Before: json.RawMessage(`{"revision":2,"managed_by":"apply","ttl":30}`), After: json.RawMessage(`{"managed_by":"apply","ttl":60}`)},
			{Action: "adopt", Kind: "zone", Name: "example.test.",
				Before: json.RawMessage(`{"managed_by":"state","ttl":300}`), After: json.RawMessage(`{"managed_by":"apply","ttl":300}`)},
		},
		Kept: []string{"datacenter/lab", "zone/other.test."},
	}
	var b strings.Builder
	if err := writeApplyResult(&b, res, map[string]string{"datacenter/lab": "api"}); err != nil {
		t.Fatal(err)
	}
	want := `- delete region/old
+ create datacenter/sin
~ update service/app.example.test./A
    ttl: 30 -> 60
= adopt zone/example.test. (from state)
kept (managed by api): datacenter/lab
kept (managed by another source): zone/other.test.
applied: 1 created, 1 updated, 1 deleted, 1 adopted (revision 7)
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	res.DryRun = true
	b.Reset()
	_ = writeApplyResult(&b, res, nil)
	if out := b.String(); !strings.HasPrefix(out, "dry run: ") || !strings.HasSuffix(out, "dry run: would be 1 created, 1 updated, 1 deleted, 1 adopted\n") {
		t.Errorf("dry run:\n%s", out)
	}
	for _, dry := range []bool{false, true} {
		b.Reset()
		_ = writeApplyResult(&b, &client.ApplyResult{DryRun: dry, Kept: []string{"datacenter/lab"}}, nil)
		want := map[bool]string{false: "no changes\n", true: "dry run: no changes\n"}[dry]
		if b.String() != want {
			t.Errorf("no changes, dry run %v: %q, want %q", dry, b.String(), want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usageErrorf("no token"), 2},
		{fmt.Errorf("wrapped: %w", usageErrorf("x")), 2},
		{&client.Problem{Status: 403, Title: "Forbidden"}, 1},
		{&client.Problem{Status: 500, Title: "Internal"}, 1},
		{&client.NetworkError{Server: "http://x", Err: errors.New("refused")}, 3},
		{&refusedError{errors.New("state.yaml:3: bad")}, 1},
		{errors.New("anything else"), 1},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestWriteProblem(t *testing.T) {
	rev := int64(12)
	p := &client.Problem{Status: 422, Title: "Invalid content", Detail: "service app./A: endpoints: unknown data center",
		Errors:       []client.FieldError{{Field: "endpoints", Message: `unknown data center "zzz"`}, {Message: "whole object"}},
		ReferencedBy: []string{"service/app./A"}, CurrentRevision: &rev}
	var b strings.Builder
	writeError(&b, &cobra.Command{Use: "apply"}, p)
	want := `meridian: the server refused: 422 Invalid content: service app./A: endpoints: unknown data center
  endpoints: unknown data center "zzz"
  whole object
  still referenced by: service/app./A
  current revision: 12
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
