package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// testList: name order whatever the insertion order, the exclusive after,
// limit, pagination, and fn's error stopping the walk.
func testList(t *testing.T, s store.Store) {
	for _, n := range []string{"d", "b", "e", "a", "c"} {
		put(t, s, &model.Region{Name: n})
	}
	list := func(after string, limit int) []string {
		var out []string
		err := s.View(t.Context(), func(tx store.Tx) error {
			return tx.List(model.KindRegion, after, limit, func(name string, _ []byte) error {
				out = append(out, name)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{"a", "b", "c", "d", "e"}},
		{"b", 0, []string{"c", "d", "e"}},
		{"bb", 0, []string{"c", "d", "e"}},
		{"0", 0, []string{"a", "b", "c", "d", "e"}},
		{"e", 0, nil},
		{"z", 0, nil},
		{"", 2, []string{"a", "b"}},
		{"b", 2, []string{"c", "d"}},
		{"d", 5, []string{"e"}},
	} {
		if got := list(c.after, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("List(after %q, limit %d) = %q, want %q", c.after, c.limit, got, c.want)
		}
	}
	var paged []string
	for after := ""; ; {
		page := list(after, 2)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(paged, want) {
		t.Errorf("paging by 2 gave %q, want %q", paged, want)
	}
	calls := 0
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(model.KindRegion, "", 0, func(string, []byte) error {
			calls++
			return errBoom
		})
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("List with a failing fn: %v after %d calls, want fn's error after 1", err, calls)
	}
}
