package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"kam/analytics"
)

func init() {
	register(command{name: "diff", usage: "compare two read models' tiers, key accounts and loyalty, early adopters included (exit 0 same, 1 different)", run: (*Main).diff})
}

// diff exits as diff(1) does: 0 when the models agree, 1 when they differ,
// 2 when they cannot be compared.
func (m *Main) diff(ctx context.Context, args []string) error {
	fs := m.flagSet("diff")
	format := fs.String("format", "table", "table, csv or json")
	if err := m.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, msg: "kam diff: " + err.Error()}
	}
	trouble := func(err error) error { return &exitError{code: 2, msg: "kam diff: " + err.Error()} }
	if fs.NArg() != 2 {
		return trouble(fmt.Errorf("usage: kam diff [--format table|csv|json] A.db B.db"))
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return trouble(fmt.Errorf("--format %q: want table, csv or json", *format))
	}
	a, err := analytics.Open(ctx, fs.Arg(0))
	if err != nil {
		return trouble(err)
	}
	b, err := analytics.Open(ctx, fs.Arg(1))
	if err != nil {
		return trouble(err)
	}
	d := analytics.Compare(a.Accounts, b.Accounts)
	switch *format {
	case "table":
		err = diffTable(m.Stdout, a, b, d)
	case "csv":
		err = diffCSV(m.Stdout, d)
	case "json":
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(map[string]any{"a": a, "b": b, "compared": d.Compared, "differ": d.Differ,
			"summary": map[string][]analytics.Transition{"tier": d.Tier, "key_account": d.Key, "loyalty": d.Loyalty,
				"early_adopter": d.Early},
			"changes": d.Changes})
	}
	if err != nil {
		return trouble(err)
	}
	if d.Differ > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func summary(ts []analytics.Transition) string {
	if len(ts) == 0 {
		return "no change"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s→%s: %d", t.From, t.To, t.Count)
	}
	return strings.Join(parts, ", ")
}

func diffTable(w io.Writer, a, b *analytics.Model, d *analytics.Diff) error {
	for _, x := range []struct {
		name string
		m    *analytics.Model
	}{{"A", a}, {"B", b}} {
		pol := x.m.Policy
		if len(pol) > 12 {
			pol = pol[:12]
		}
		fmt.Fprintf(w, "%s: %s  policy %s  applied_seq %d  watermark %s  accounts %d\n", x.name, x.m.Path, pol, x.m.AppliedSeq,
			orDash(x.m.Watermark), len(x.m.Accounts))
	}
	if a.AppliedSeq != b.AppliedSeq || a.Watermark != b.Watermark {
		fmt.Fprintln(w, "note: the models stand at different points of the stream; their differences include that")
	}
	fmt.Fprintf(w, "%d accounts compared, %d differ\n", d.Compared, d.Differ)
	fmt.Fprintf(w, "tier:          %s\nkey account:   %s\nloyalty:       %s\nearly adopter: %s\n",
		summary(d.Tier), summary(d.Key), summary(d.Loyalty), summary(d.Early))
	if d.Differ == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "account\ttier\tkey account\tloyalty\tearly adopter\t")
	for _, c := range d.Changes {
		a, b := decisionCells(c.A, c.InA), decisionCells(c.B, c.InB)
		cells := make([]string, len(a))
		for i := range cells {
			if a[i] == b[i] {
				cells[i] = a[i]
			} else {
				cells[i] = a[i] + " → " + b[i]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", c.Account, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// decisionCells shows a decision as tier, key flag, loyalty and
// early-adopter flag.
func decisionCells(d analytics.Decision, in bool) []string {
	if !in {
		return []string{analytics.Absent, analytics.Absent, analytics.Absent, analytics.Absent}
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	key := yesNo(d.Key)
	tier, loyalty := d.Tier, d.Loyalty
	if tier == "" {
		tier = analytics.None
	}
	if loyalty == "" {
		loyalty = analytics.None
	}
	return []string{tier, key, loyalty, yesNo(d.EarlyAdopter)}
}

func diffCSV(w io.Writer, d *analytics.Diff) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"account", "tier_a", "tier_b", "key_account_a", "key_account_b", "loyalty_a", "loyalty_b",
		"early_adopter_a", "early_adopter_b"})
	for _, c := range d.Changes {
		a, b := decisionCells(c.A, c.InA), decisionCells(c.B, c.InB)
		cw.Write([]string{c.Account, a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]})
	}
	cw.Flush()
	return cw.Error()
}
