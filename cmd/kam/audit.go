package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"kam/handlers"
)

func init() {
	register(command{name: "audit", usage: "print an account's decision trail with the events behind each decision", run: (*Main).audit})
}

func (m *Main) audit(ctx context.Context, args []string) error {
	fs := m.flagSet("audit")
	addr := fs.String("url", "http://127.0.0.1:8080", "kam's HTTP address")
	token := fs.String("token", "", "API token with the audit scope")
	asOf := fs.String("as-of", "", "the trail up to this time (RFC 3339, or YYYY-MM-DD for that day's close)")
	format := fs.String("format", "text", "text or json")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: kam audit ACCOUNT [--url URL] [--as-of T] [--format text|json]")
	}
	path := "/v1/accounts/" + url.PathEscape(fs.Arg(0)) + "/audit"
	if *asOf != "" {
		path += "?as_of=" + url.QueryEscape(*asOf)
	}
	var raw json.RawMessage
	if _, _, err := newAPIClient(*addr, *token).do(ctx, http.MethodGet, path, nil, &raw); err != nil {
		return err
	}
	switch *format {
	case "json":
		_, err := m.Stdout.Write(append(raw, '\n'))
		return err
	case "text":
		var a handlers.Audit
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		writeAuditText(m.Stdout, &a)
		return nil
	}
	return fmt.Errorf("--format %q: want text or json", *format)
}

// writeAuditText writes the trail as a statement an auditor can file.
func writeAuditText(w io.Writer, a *handlers.Audit) {
	yes := map[bool]string{true: "yes", false: "NO"}
	fmt.Fprintf(w, "AUDIT STATEMENT: account %q\n", a.Account)
	fmt.Fprintf(w, "Prepared %s", a.Prepared)
	if a.AsOf != "" {
		fmt.Fprintf(w, ", as of %s", a.AsOf)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Event log: stream %s, sequences %d to %d, %d messages; every message appended still there: %s; "+
		"deny delete: %s, deny purge: %s, replicas: %d\n", a.Stream.Name, a.Stream.FirstSeq, a.Stream.LastSeq, a.Stream.Messages,
		yes[a.Stream.Complete], yes[a.Stream.DenyDelete], yes[a.Stream.DenyPurge], a.Stream.Replicas)
	fmt.Fprintf(w, "Retention limits: max messages %d, max bytes %d, max age %s (-1 and 0s: none)\n",
		a.Stream.MaxMsgs, a.Stream.MaxBytes, a.Stream.MaxAge)
	fmt.Fprintf(w, "Read model policy: %s\n", a.Policy)
	if a.Chain != nil {
		fmt.Fprintf(w, "Hash chain of the account's messages: %d links, head %s (after sequence %d)\n", a.Chain.Length, a.Chain.Head, a.Chain.LastSeq)
		fmt.Fprintf(w, "  (check it: kam verify --chain; compare the head with a copy filed earlier)\n")
	}
	fmt.Fprintf(w, "\n%d decisions:\n", len(a.Decisions))
	for i, d := range a.Decisions {
		fmt.Fprintf(w, "\n%d. %s  %s  %s -> %s   (policy %s)\n", i+1, d.Effective, strings.ToUpper(d.Kind), show(d.From), show(d.To), short(d.Policy))
		fmt.Fprintf(w, "   Decided on: %s\n", figures(d.Kind, d.Figures))
		if ev := eventLine(d.ClosedBy); ev != "" {
			fmt.Fprintf(w, "   The day was closed by %s\n", ev)
		} else if d.CloseSeq > 0 {
			fmt.Fprintf(w, "   The day was closed by sequence %d: NOT IN THE STREAM ANY MORE\n", d.CloseSeq)
		}
		fmt.Fprintf(w, "   Moved by %d event(s) of the account since the previous %s decision", d.MovedCount, d.Kind)
		if len(d.Moved) < int(d.MovedCount) {
			fmt.Fprintf(w, " (the latest %d shown)", len(d.Moved))
		}
		fmt.Fprintln(w, ":")
		if gone := len(d.MovedSeqs) - len(d.Moved); gone > 0 {
			fmt.Fprintf(w, "     %d of the recorded events: NOT IN THE STREAM ANY MORE\n", gone)
		} else if len(d.Moved) == 0 {
			fmt.Fprintln(w, "     (none: the change came from the other accounts' figures or the passing of time)")
		}
		for _, ev := range d.Moved {
			fmt.Fprintf(w, "     %s\n", eventLine(ev))
		}
	}
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

// figures puts a decision's figures in words, the deciding ones first.
func figures(kind string, f map[string]any) string {
	order := map[string][]string{
		"tier":    {"revenue", "rank", "ranked", "before_revenue", "total_revenue", "cut_a", "cut_b", "window_days"},
		"key":     {"tier", "score", "min_score", "score_volume", "score_concentration", "score_service_requirement", "score_price_insensitivity", "score_partnership", "revenue", "orders", "discounted"},
		"loyalty": {"reason", "orders_window", "revenue_window", "discounted_window", "prior_orders", "first_order_at", "last_competitor_purchase_at"},
	}[kind]
	seen := map[string]bool{}
	var parts []string
	for _, k := range order {
		if v, ok := f[k]; ok && v != nil {
			parts = append(parts, fmt.Sprintf("%s %v", k, v))
		}
		seen[k] = true
	}
	var rest []string
	for k, v := range f {
		if !seen[k] && v != nil {
			rest = append(rest, fmt.Sprintf("%s %v", k, v))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), ", ")
}

// eventLine describes an event as stored in one line.
func eventLine(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var e struct {
		Seq           uint64          `json:"seq"`
		StoredAt      string          `json:"stored_at"`
		ID            string          `json:"id"`
		Type          string          `json:"type"`
		Subject       string          `json:"subject"`
		Time          string          `json:"time"`
		Source        string          `json:"source"`
		Actor         string          `json:"actor"`
		CorrelationID string          `json:"correlationid"`
		CausationID   string          `json:"causationid"`
		Data          json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return string(raw)
	}
	s := fmt.Sprintf("#%d %s id %s", e.Seq, e.Type, e.ID)
	if e.Subject != "" {
		s += fmt.Sprintf(" of %q", e.Subject)
	}
	s += fmt.Sprintf(", business time %s, stored %s, source %s", e.Time, e.StoredAt, e.Source)
	if e.Actor != "" {
		s += ", actor " + e.Actor
	}
	if e.CorrelationID != "" {
		s += ", correlation " + e.CorrelationID
	}
	if e.CausationID != "" {
		s += ", causation " + e.CausationID
	}
	switch {
	case len(e.Data) == 0:
	case len(e.Data) <= maxDataShown:
		s += ", data " + string(e.Data)
	default:
		// A statement must not look whole when it is not: the data is cut
		// visibly, after the amount when there is one.
		s += fmt.Sprintf(", data (%d bytes, the first %d) %s…", len(e.Data), maxDataShown, cutUTF8(e.Data, maxDataShown))
		if amount := amountOf(e.Data); amount != "" {
			s += ", amount " + amount
		}
	}
	return s
}

// maxDataShown bounds the data a statement's line shows of an event.
const maxDataShown = 200

// cutUTF8 is b cut to at most n bytes, not inside a character.
func cutUTF8(b []byte, n int) string {
	for n > 0 && n < len(b) && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

// amountOf is the amount of an order or return's data, "" without one.
func amountOf(data []byte) string {
	var d struct {
		Amount string `json:"amount"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	return d.Amount
}
