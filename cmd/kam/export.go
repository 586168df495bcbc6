package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

func init() {
	register(command{name: "export", usage: "export accounts, tiers or service levels as CSV or JSON, through a running kam", run: (*Main).export})
}

// Columns of the CSV exports: the API's field names, in this order. Money
// stays the API's decimal strings; an absent value is an empty cell.
var (
	accountColumns = []string{"id", "name", "industry", "region", "manager", "tier", "rank", "key_account", "key_score",
		"loyalty", "early_adopter", "revenue_window", "revenue_total", "orders_window"}
	tierColumns = []string{"account", "effective", "from_tier", "to_tier", "revenue", "rank", "ranked", "before_revenue",
		"total_revenue", "window_days", "cut_a", "cut_b", "policy", "close_seq", "close_event_id", "moved_count"}
)

func (m *Main) export(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(m.Stderr, "usage: kam export accounts|tiers|sla [--as-of T] [--format csv|json] [--url URL] [-o FILE]")
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	what := args[0]
	fs := m.flagSet("export " + what)
	asOf := fs.String("as-of", "", "as of this time (RFC 3339) or the close of this day (YYYY-MM-DD); default: now")
	format := fs.String("format", "csv", "csv or json")
	apiURL := fs.String("url", "http://127.0.0.1:8080", "kam's HTTP address")
	token := fs.String("token", "", "API token (Authorization: Bearer)")
	out := fs.String("o", "-", "output file, - for stdout")
	report := fs.Bool("report", false, "tiers: the ABC report (accounts and revenue per tier) instead of every account's tier history")
	workers := fs.Int("workers", 4, "tiers: concurrent requests for the accounts' histories")
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *asOf != "" {
		if _, err := asOfTime(*asOf); err != nil {
			return err
		}
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: want csv or json", *format)
	}
	w := m.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	x := &exporter{c: newAPIClient(*apiURL, *token), asOf: *asOf, json: *format == "json", w: bw}
	var err error
	switch what {
	case "accounts":
		err = x.accounts(ctx)
	case "tiers":
		if *report {
			err = x.abc(ctx)
		} else {
			err = x.tiers(ctx, max(*workers, 1))
		}
	case "sla":
		err = x.sla(ctx)
	default:
		return fmt.Errorf("unknown export %q: want accounts, tiers or sla", what)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

type exporter struct {
	c    *apiClient
	asOf string
	json bool
	w    *bufio.Writer
}

func (x *exporter) query(v url.Values) string {
	if x.asOf != "" {
		v.Set("as_of", x.asOf)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// get decodes the JSON answer of path into out.
func (x *exporter) get(ctx context.Context, path string, out any) error {
	_, _, err := x.c.do(ctx, http.MethodGet, path, nil, out)
	return err
}

// eachAccount pages through the account list (by id) and calls f with each
// account object as the API gave it.
func (x *exporter) eachAccount(ctx context.Context, f func(json.RawMessage) error) error {
	cursor := ""
	for {
		v := url.Values{"sort": {"id"}, "limit": {"1000"}}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var page struct {
			Accounts []json.RawMessage `json:"accounts"`
			Next     *string           `json:"next_cursor"`
		}
		if err := x.get(ctx, "/v1/accounts"+x.query(v), &page); err != nil {
			return err
		}
		for _, a := range page.Accounts {
			if err := f(a); err != nil {
				return err
			}
		}
		if page.Next == nil || *page.Next == "" || len(page.Accounts) == 0 {
			return nil
		}
		cursor = *page.Next
	}
}

// table writes rows of objects as CSV (the columns' fields) or as one JSON
// array of the objects as they are.
type table struct {
	x       *exporter
	columns []string
	csv     *csv.Writer
	n       int
}

func (x *exporter) table(columns []string) *table {
	t := &table{x: x, columns: columns}
	if x.json {
		x.w.WriteString("[")
	} else {
		t.csv = csv.NewWriter(x.w)
		t.csv.Write(columns)
	}
	return t
}

func (t *table) row(obj json.RawMessage) error {
	t.n++
	if t.x.json {
		if t.n > 1 {
			t.x.w.WriteByte(',')
		}
		t.x.w.WriteByte('\n')
		return compact(t.x.w, obj)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return fmt.Errorf("an answer of kam is not a JSON object: %w", err)
	}
	rec := make([]string, len(t.columns))
	for i, c := range t.columns {
		rec[i] = cell(fields[c])
	}
	return t.csv.Write(rec)
}

func (t *table) close() error {
	if t.x.json {
		if t.n > 0 {
			t.x.w.WriteByte('\n')
		}
		_, err := t.x.w.WriteString("]\n")
		return err
	}
	t.csv.Flush()
	return t.csv.Error()
}

func compact(w *bufio.Writer, v json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// cell is a JSON value as a CSV cell: strings unquoted, null empty,
// numbers and booleans as written (so money strings and counts stay exact).
func cell(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0, string(v) == "null":
		return ""
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

func (x *exporter) accounts(ctx context.Context) error {
	t := x.table(accountColumns)
	if err := x.eachAccount(ctx, t.row); err != nil {
		return err
	}
	return t.close()
}

// tiers exports every account's tier history (up to as-of), accounts in
// id order, each account's changes oldest first.
func (x *exporter) tiers(ctx context.Context, workers int) error {
	var ids []string
	err := x.eachAccount(ctx, func(a json.RawMessage) error {
		var s struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(a, &s); err != nil {
			return err
		}
		ids = append(ids, s.ID)
		return nil
	})
	if err != nil {
		return err
	}
	t := x.table(tierColumns)
	// Fetch ahead with a few workers; write in id order.
	type result struct {
		rows []json.RawMessage
		err  error
	}
	results := make([]chan result, len(ids))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var h struct {
					History []json.RawMessage `json:"history"`
				}
				err := x.get(ctx, "/v1/accounts/"+url.PathEscape(ids[i])+"/tiers", &h)
				results[i] <- result{h.History, err}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range ids {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	for i := range ids {
		r := <-results[i]
		if r.err != nil {
			return fmt.Errorf("tier history of %q: %w", ids[i], r.err)
		}
		for _, row := range r.rows {
			if x.asOf != "" && !effectiveBy(row, x.asOf) {
				continue
			}
			if err := t.row(row); err != nil {
				return err
			}
		}
	}
	return t.close()
}

// effectiveBy reports whether a history row took effect by asOf (a date
// means its close). Times compare as RFC 3339 UTC text, which the API gives.
func effectiveBy(row json.RawMessage, asOf string) bool {
	var r struct {
		Effective string `json:"effective"`
	}
	if json.Unmarshal(row, &r) != nil {
		return true
	}
	limit, err := asOfTime(asOf)
	if err != nil {
		return true
	}
	eff, err := time.Parse(time.RFC3339Nano, r.Effective)
	return err != nil || !eff.After(limit)
}

func (x *exporter) abc(ctx context.Context) error {
	var rep struct {
		AsOf         string `json:"as_of"`
		Day          string `json:"day"`
		Policy       string `json:"policy"`
		TotalRevenue string `json:"total_revenue"`
		Tiers        map[string]struct {
			Accounts int64           `json:"accounts"`
			Revenue  string          `json:"revenue"`
			Share    json.RawMessage `json:"share"`
		} `json:"tiers"`
		KeyAccounts int64 `json:"key_accounts"`
	}
	var raw json.RawMessage
	if err := x.get(ctx, "/v1/reports/abc"+x.query(url.Values{}), &raw); err != nil {
		return err
	}
	if x.json {
		if err := compact(x.w, raw); err != nil {
			return err
		}
		return x.w.WriteByte('\n')
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return err
	}
	cw := csv.NewWriter(x.w)
	cw.Write([]string{"day", "as_of", "policy", "tier", "accounts", "revenue", "share", "total_revenue"})
	tiers := make([]string, 0, len(rep.Tiers))
	for t := range rep.Tiers {
		tiers = append(tiers, t)
	}
	sort.Strings(tiers)
	for _, t := range tiers {
		s := rep.Tiers[t]
		cw.Write([]string{rep.Day, rep.AsOf, rep.Policy, t, strconv.FormatInt(s.Accounts, 10), s.Revenue, cell(s.Share), rep.TotalRevenue})
	}
	cw.Flush()
	return cw.Error()
}

type slaStep struct {
	Met         int             `json:"met"`
	Breached    int             `json:"breached"`
	Compliance  json.RawMessage `json:"compliance"`
	MedianHours json.RawMessage `json:"median_hours"`
	P90Hours    json.RawMessage `json:"p90_hours"`
	OverdueNow  int             `json:"overdue_now"`
}

type slaKind struct {
	Opened     int      `json:"opened"`
	Open       int      `json:"open"`
	OverdueNow int      `json:"overdue_now"`
	Response   *slaStep `json:"response"`
	Resolution slaStep  `json:"resolution"`
}

// sla exports the service-level report: one CSV row per tier and kind.
func (x *exporter) sla(ctx context.Context) error {
	var raw json.RawMessage
	if err := x.get(ctx, "/v1/reports/sla"+x.query(url.Values{}), &raw); err != nil {
		return err
	}
	if x.json {
		if err := compact(x.w, raw); err != nil {
			return err
		}
		return x.w.WriteByte('\n')
	}
	var rep struct {
		AsOf  string `json:"as_of"`
		Tiers map[string]struct {
			Requests   slaKind `json:"requests"`
			Complaints slaKind `json:"complaints"`
		} `json:"tiers"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return err
	}
	cw := csv.NewWriter(x.w)
	cw.Write([]string{"as_of", "tier", "kind", "opened", "open", "overdue_now",
		"response_met", "response_breached", "response_compliance", "response_median_hours", "response_p90_hours", "response_overdue_now",
		"resolution_met", "resolution_breached", "resolution_compliance", "resolution_median_hours", "resolution_p90_hours",
		"resolution_overdue_now"})
	tiers := make([]string, 0, len(rep.Tiers))
	for t := range rep.Tiers {
		tiers = append(tiers, t)
	}
	sort.Strings(tiers)
	itoa := strconv.Itoa
	for _, t := range tiers {
		g := rep.Tiers[t]
		for _, k := range []struct {
			name string
			s    slaKind
		}{{"requests", g.Requests}, {"complaints", g.Complaints}} {
			rec := []string{rep.AsOf, t, k.name, itoa(k.s.Opened), itoa(k.s.Open), itoa(k.s.OverdueNow)}
			if r := k.s.Response; r != nil {
				rec = append(rec, itoa(r.Met), itoa(r.Breached), cell(r.Compliance), cell(r.MedianHours), cell(r.P90Hours), itoa(r.OverdueNow))
			} else {
				rec = append(rec, "", "", "", "", "", "")
			}
			s := k.s.Resolution
			rec = append(rec, itoa(s.Met), itoa(s.Breached), cell(s.Compliance), cell(s.MedianHours), cell(s.P90Hours), itoa(s.OverdueNow))
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}

// asOfTime reads --as-of as the API does: a date means its close (24:00 UTC).
func asOfTime(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24 * time.Hour), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--as-of %q: want an RFC 3339 time or a date YYYY-MM-DD", s)
	}
	return t.UTC(), nil
}
