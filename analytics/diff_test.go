package analytics

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kam/projections"
)

func TestCompare(t *testing.T) {
	type m = map[string]Decision
	for _, c := range []struct {
		name    string
		a, b    m
		changes []string // accounts, in order
		tier    []Transition
		key     []Transition
		loyalty []Transition
		early   []Transition
	}{
		{name: "both empty", a: m{}, b: m{}},
		{
			name: "equal",
			a:    m{"X": {"A", true, "loyal", false}, "Y": {"", false, "", false}},
			b:    m{"X": {"A", true, "loyal", false}, "Y": {"", false, "", false}},
		},
		{
			name:    "tier only",
			a:       m{"X": {"A", false, "loyal", false}, "Y": {"B", false, "new", false}, "Z": {"A", false, "new", false}},
			b:       m{"X": {"B", false, "loyal", false}, "Y": {"C", false, "new", false}, "Z": {"B", false, "new", false}},
			changes: []string{"X", "Y", "Z"},
			tier:    []Transition{{"A", "B", 2}, {"B", "C", 1}},
		},
		{
			name:    "key and loyalty of one account",
			a:       m{"X": {"A", true, "no_brand_loyalty", false}, "Y": {"A", false, "", false}},
			b:       m{"X": {"A", false, "new", false}, "Y": {"A", false, "", false}},
			changes: []string{"X"},
			key:     []Transition{{"yes", "no", 1}},
			loyalty: []Transition{{"no_brand_loyalty", "new", 1}},
		},
		{
			name:    "none is a value",
			a:       m{"X": {"", false, "", false}},
			b:       m{"X": {"C", false, "new", false}},
			changes: []string{"X"},
			tier:    []Transition{{"none", "C", 1}},
			loyalty: []Transition{{"none", "new", 1}},
		},
		{
			name:    "accounts in one model only",
			a:       m{"OLD": {"C", false, "loyal", false}, "X": {"A", true, "loyal", false}},
			b:       m{"NEW": {"", false, "", false}, "X": {"A", true, "loyal", false}},
			changes: []string{"NEW", "OLD"},
			tier:    []Transition{{"C", "absent", 1}, {"absent", "none", 1}},
			key:     []Transition{{"absent", "no", 1}, {"no", "absent", 1}},
			loyalty: []Transition{{"absent", "none", 1}, {"loyal", "absent", 1}},
			early:   []Transition{{"absent", "no", 1}, {"no", "absent", 1}},
		},
		{
			name:    "early adopter only",
			a:       m{"X": {"A", false, "loyal", true}, "Y": {"A", false, "loyal", false}},
			b:       m{"X": {"A", false, "loyal", false}, "Y": {"A", false, "loyal", false}},
			changes: []string{"X"},
			early:   []Transition{{"yes", "no", 1}},
		},
		{
			name:    "ids sort bytewise",
			a:       m{"b": {"A", false, "", false}, "B": {"A", false, "", false}, "a": {"A", false, "", false}},
			b:       m{"b": {"B", false, "", false}, "B": {"B", false, "", false}, "a": {"B", false, "", false}},
			changes: []string{"B", "a", "b"},
			tier:    []Transition{{"A", "B", 3}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Compare(c.a, c.b)
			var got []string
			for _, ch := range d.Changes {
				got = append(got, ch.Account)
			}
			if strings.Join(got, ",") != strings.Join(c.changes, ",") || d.Differ != len(c.changes) {
				t.Errorf("changes: got %v (differ %d), want %v", got, d.Differ, c.changes)
			}
			for _, x := range []struct {
				name      string
				got, want []Transition
			}{{"tier", d.Tier, c.tier}, {"key", d.Key, c.key}, {"loyalty", d.Loyalty, c.loyalty}, {"early_adopter", d.Early, c.early}} {
				if len(x.got) != 0 || len(x.want) != 0 {
					if !reflect.DeepEqual(x.got, x.want) {
						t.Errorf("%s transitions: got %v, want %v", x.name, x.got, x.want)
					}
				}
			}
			union := map[string]bool{}
			for id := range c.a {
				union[id] = true
			}
			for id := range c.b {
				union[id] = true
			}
			if d.Compared != len(union) {
				t.Errorf("compared: got %d, want %d", d.Compared, len(union))
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(context.Background(), filepath.Join(dir, "missing.db")); err == nil {
		t.Error("a missing file: got no error")
	}
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite3", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), other); err == nil || !strings.Contains(err.Error(), "not a kam read model") {
		t.Errorf("another SQLite file: got %v, want not a kam read model", err)
	}
	// An empty read model, still open for writing by its owner.
	path := filepath.Join(dir, "kam.db")
	rm, err := projections.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if _, err := projections.Open(context.Background(), rm, projections.DefaultPolicy(), "KAM", nil); err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Policy != projections.DefaultPolicy().Version() || len(m.Accounts) != 0 || m.AppliedSeq != 0 {
		t.Errorf("empty model: got %+v", m)
	}
}
