package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/statefile"
)

func newApplyCmd() *cobra.Command {
	var (
		api    apiFlags
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f STATE.yaml [--dry-run]",
		Short: "Make the server's objects match a state file, through the API",
		Long: `Apply reads a state file (and the zone files it names) here, on the client,
sends the whole desired state to the server's /api/v1/apply, and prints what
changed, one line per object:

  + create KIND/NAME      ~ update KIND/NAME (and the fields that changed)
  - delete KIND/NAME      = adopt KIND/NAME  (taken over from another source)

Objects an earlier apply created and the file no longer names are deleted;
objects of other sources (the server's own state file, the API) that the
file does not name are left alone and listed as kept. Applying the same file
again prints "no changes". With --dry-run nothing is written.`,
		Example: `  meridian apply -f examples/state.yaml --dry-run
  meridian apply -f examples/state.yaml`,
		RunE: runE(cobra.NoArgs, func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErrorf("give the state file with -f FILE")
			}
			desired, err := loadStateFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.Apply(ctx, desired, dryRun)
			if err != nil {
				return err
			}
			var managers map[string]string
			if len(res.Changes) > 0 {
				managers = keptManagers(ctx, c, res.Kept)
			}
			return writeApplyResult(cmd.OutOrStdout(), res, managers)
		}),
	}
	api.register(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "state file to apply (- for standard input; zone files are then relative to the current directory)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	return asClientCommand(cmd)
}

// loadStateFile reads and checks a state file as the server's loader
// does. A file that cannot be read is a usage error (exit 2); one with
// an error in it is refused (exit 1).
func loadStateFile(path string, stdin io.Reader) (*model.State, error) {
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(stdin)
		path = "<stdin>"
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usageErrorf("state file: %v", err)
	}
	st, err := statefile.Parse(path, data, dnsserver.ParseZoneFile)
	if err != nil {
		return nil, &refusedError{err}
	}
	return st, nil
}

// keptManagers finds which source manages each kept object ("kind/name"
// → managed_by), with one list per kind. It is best effort: what it
// cannot learn is left out.
func keptManagers(ctx context.Context, c *client.Client, kept []string) map[string]string {
	out := map[string]string{}
	kinds := map[model.Kind]bool{}
	for _, k := range kept {
		kind, _, _ := strings.Cut(k, "/")
		kinds[model.Kind(kind)] = true
	}
	for kind := range kinds {
		items, err := c.List(ctx, client.CollectionPath(kind), nil, 0)
		if err != nil {
			continue
		}
		for _, raw := range items {
			var obj struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				ManagedBy string `json:"managed_by"`
			}
			if json.Unmarshal(raw, &obj) != nil {
				continue
			}
			name := obj.Name
			if kind == model.KindService {
				name = model.ServiceKey(obj.Name, obj.Type)
			}
			out[string(kind)+"/"+name] = obj.ManagedBy
		}
	}
	return out
}

var actionMarks = map[string]string{"create": "+", "update": "~", "delete": "-", "adopt": "="}

// writeApplyResult prints an apply's diff: one line per change with the
// changed fields of updates and adoptions under it, the kept objects,
// and a summary. No change at all prints "no changes" alone.
func writeApplyResult(w io.Writer, res *client.ApplyResult, managers map[string]string) error {
	var b strings.Builder
	prefix := ""
	if res.DryRun {
		prefix = "dry run: "
	}
	if len(res.Changes) == 0 {
		// Exactly this, for scripts: the kept objects are listed only
		// beside changes, where they help review them.
		_, err := io.WriteString(w, prefix+"no changes\n")
		return err
	}
	if res.DryRun {
		b.WriteString("dry run: nothing is changed; applying would make these changes:\n")
	}
	for _, c := range res.Changes {
		mark := actionMarks[c.Action]
		if mark == "" {
			mark = "?"
		}
		fmt.Fprintf(&b, "%s %s %s/%s", mark, c.Action, c.Kind, c.Name)
		if c.Action == "adopt" {
			if by := managedByOf(c.Before); by != "" {
				fmt.Fprintf(&b, " (from %s)", by)
			}
		}
		b.WriteString("\n")
		if c.Action == "update" || c.Action == "adopt" {
			for _, line := range jsonDiff(c.Before, c.After) {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	for _, k := range res.Kept {
		by := managers[k]
		if by == "" {
			by = "another source"
		}
		fmt.Fprintf(&b, "kept (managed by %s): %s\n", by, k)
	}
	if res.DryRun {
		fmt.Fprintf(&b, "dry run: would be %s\n", res.Summary)
	} else {
		fmt.Fprintf(&b, "applied: %s (revision %d)\n", res.Summary, res.Revision)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func managedByOf(raw json.RawMessage) string {
	var m struct {
		ManagedBy string `json:"managed_by"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.ManagedBy
}

// metaFields are the stored objects' bookkeeping, not part of a diff.
var metaFields = []string{"revision", "managed_by"}

// jsonDiff compares two objects' JSON field by field and returns one line
// per difference: "path: old -> new", "+ path: value", "- path: value".
// Lists are compared element by element after matching equal elements
// (a longest common subsequence), so an inserted record shows as one
// added element, not as every later element changed.
func jsonDiff(before, after json.RawMessage) []string {
	a, errA := decodeJSONValue(before)
	b, errB := decodeJSONValue(after)
	if errA != nil || errB != nil {
		return nil
	}
	for _, v := range []any{a, b} {
		if m, ok := v.(map[string]any); ok {
			for _, f := range metaFields {
				delete(m, f)
			}
		}
	}
	var out []string
	diffValue("", a, b, &out)
	return out
}

func decodeJSONValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func compactJSON(v any) string {
	if v == nil {
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func diffPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func diffValue(path string, a, b any, out *[]string) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			diffMaps(path, av, bv, out)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			diffLists(path, av, bv, out)
			return
		}
	}
	if ca, cb := compactJSON(a), compactJSON(b); ca != cb {
		*out = append(*out, fmt.Sprintf("%s: %s -> %s", path, ca, cb))
	}
}

func diffMaps(path string, a, b map[string]any, out *[]string) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, inA := a[k]
		bv, inB := b[k]
		p := diffPath(path, k)
		switch {
		case !inA:
			*out = append(*out, fmt.Sprintf("+ %s: %s", p, compactJSON(bv)))
		case !inB:
			*out = append(*out, fmt.Sprintf("- %s: %s", p, compactJSON(av)))
		default:
			diffValue(p, av, bv, out)
		}
	}
}

// maxLCSCells bounds the work of matching two lists; beyond it the
// differing middle is compared position by position.
const maxLCSCells = 4 << 20

func diffLists(path string, a, b []any, out *[]string) {
	ka := make([]string, len(a))
	for i, v := range a {
		ka[i] = compactJSON(v)
	}
	kb := make([]string, len(b))
	for i, v := range b {
		kb[i] = compactJSON(v)
	}
	// Common head and tail, then a longest common subsequence of the rest.
	head := 0
	for head < len(a) && head < len(b) && ka[head] == kb[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && ka[len(a)-1-tail] == kb[len(b)-1-tail] {
		tail++
	}
	ma, mb := ka[head:len(a)-tail], kb[head:len(b)-tail]
	var pairs [][2]int // matched indexes into ma, mb, in order
	if len(ma)*len(mb) <= maxLCSCells {
		pairs = lcsPairs(ma, mb)
	}
	elem := func(i int) string { return fmt.Sprintf("%s[%d]", path, i) }
	// Walk the unmatched runs between matches: a run of removals beside
	// a run of additions is paired up as changed elements.
	i, j := 0, 0
	flush := func(iEnd, jEnd int) {
		for i < iEnd && j < jEnd {
			diffValue(elem(head+j), a[head+i], b[head+j], out)
			i++
			j++
		}
		for ; i < iEnd; i++ {
			*out = append(*out, fmt.Sprintf("- %s: %s", elem(head+i), ka[head+i]))
		}
		for ; j < jEnd; j++ {
			*out = append(*out, fmt.Sprintf("+ %s: %s", elem(head+j), kb[head+j]))
		}
	}
	for _, p := range pairs {
		flush(p[0], p[1])
		i, j = p[0]+1, p[1]+1
	}
	flush(len(ma), len(mb))
}

// lcsPairs returns the index pairs of a longest common subsequence of a and b.
func lcsPairs(a, b []string) [][2]int {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return nil
	}
	// t[i][j]: LCS length of a[i:], b[j:].
	t := make([][]int32, n+1)
	for i := range t {
		t[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	var pairs [][2]int
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i] == b[j]:
			pairs = append(pairs, [2]int{i, j})
			i++
			j++
		case t[i+1][j] >= t[i][j+1]:
			i++
		default:
			j++
		}
	}
	return pairs
}
