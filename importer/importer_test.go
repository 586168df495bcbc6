package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kam/events"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestRoundHalfEven(t *testing.T) {
	for _, c := range []struct {
		v    int64
		drop int
		want int64
	}{
		{771641, 1, 77164}, {771645, 1, 77164}, {771655, 1, 77166}, {771646, 1, 77165},
		{-771645, 1, -77164}, {-771655, 1, -77166}, {5, 1, 0}, {15, 1, 2}, {25, 1, 2}, {-5, 1, 0},
		{12345, 3, 12}, {12500, 3, 12}, {13500, 3, 14}, {12501, 3, 13},
	} {
		if got := roundHalfEven(c.v, c.drop); got != c.want {
			t.Errorf("roundHalfEven(%d, %d): got %d, want %d", c.v, c.drop, got, c.want)
		}
	}
}

const retailHeader = "invoice,customer_id,invoice_datetime,country,lines,quantity,amount_gbp,kind\n"

func retailOptions() Options {
	return Options{Format: FormatCSV, AccountCol: "customer_id", TimeCol: "invoice_datetime", AmountCol: "amount_gbp",
		OrderCol: "invoice", QtyCol: "quantity", Currency: "GBP", Now: now}
}

func parse(t *testing.T, body string, o Options) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(body), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCSVRows(t *testing.T) {
	body := retailHeader +
		"2,13085,2009-12-01 09:00:00,UK,1,10,100.00,sale\n" + // line 2
		"C3,13085,2009-12-01 08:00:00,UK,1,-2,-20.50,cancellation\n" + // line 3: a return
		"A4,,2009-12-01 10:00:00,UK,1,1,-5.00,adjustment\n" + // line 4: no account
		"5,13086,2009-12-01 08:00:00,UK,3,7,771.641,sale\n" + // line 5: finer than pence
		"6,13086,yesterday,UK,1,1,1.00,sale\n" + // line 6: a bad time
		"7,13086,2009-12-01 08:00:00,UK,1,1,1.0.0,sale\n" + // line 7: a bad amount
		"8,13087,2009-12-01 08:00:00,UK,1,0,3.00,sale\n" + // line 8: an order without quantity
		"9,13087,2009-12-01 08:00:00\n" + // line 9: too few fields
		"10,13087,2030-01-01 00:00:00,UK,1,1,3.00,sale\n" + // line 10: the future
		"11,13088,2009-12-01 08:00:00,UK,1,1,0.00,sale\n" + // line 11: a free order
		"C12,13088,2009-12-01 07:00:00,UK,1,-1,-0.004,cancellation\n" // line 12: rounds to 0
	f := parse(t, body, retailOptions())
	if f.Read != 11 {
		t.Errorf("rows read: got %d, want 11", f.Read)
	}
	var bad []string
	for _, b := range f.Bad {
		bad = append(bad, b.String())
	}
	want := []string{
		"line 4: customer_id is empty: a row needs an account",
		"line 5: amount_gbp 771.641 has 3 decimals, GBP has 2 (give --round half-even to round it)",
		`line 6: invoice_datetime "yesterday": want RFC 3339, "2006-01-02 15:04:05" or "2006-01-02" (or give --time-layout)`,
		`line 7: amount_gbp "1.0.0" must be a decimal string such as "1234.50"`,
		"line 8: quantity 0: an order needs a quantity of at least 1",
		"line 9: has 3 fields, the mapping needs at least 7",
		"line 10: time 2030-01-01T00:00:00Z is in the future",
		"line 12: amount_gbp -0.004 has 3 decimals, GBP has 2 (give --round half-even to round it)",
	}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Errorf("bad rows:\ngot\n%s\nwant\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	// Sorted by time, then line: 3 (08:00), 2 (09:00)... with 11 at 08:00 after 3.
	var order []int
	for _, r := range f.Rows {
		order = append(order, r.Line)
	}
	if got := order; len(got) != 3 || got[0] != 3 || got[1] != 11 || got[2] != 2 {
		t.Errorf("row order: got %v, want [3 11 2]", got)
	}

	o := retailOptions()
	o.Round = RoundHalfEven
	f = parse(t, body, o)
	if len(f.Bad) != 7 || f.Bad[1].Line != 6 || f.Bad[6].Line != 12 || !strings.Contains(f.Bad[6].Reason, "rounds to 0") {
		t.Errorf("with rounding, bad rows: got %v, want 7 with line 12 rounding to 0", f.Bad)
	}
	orders, ordered, returns, returned, rounded := f.Totals()
	if orders != 3 || ordered != 10000+77164+0 || returns != 1 || returned != 2050 || rounded != 1 {
		t.Errorf("totals: got %d orders %d, %d returns %d, %d rounded; want 3 orders 87164, 1 return 2050, 1 rounded",
			orders, ordered, returns, returned, rounded)
	}

	evs := f.Events()
	if len(evs) != 5 {
		t.Fatalf("events: got %d, want 4 and a tick", len(evs))
	}
	for i, e := range evs {
		if _, err := events.Validate(e, events.Rules{Currency: "GBP", Digits: 2}); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	ret := evs[0]
	if ret.Type != events.TypeOrderReturned || ret.Subject != "13085" || string(ret.Data) != `{"amount":"20.50","currency":"GBP","reference":"C3"}` {
		t.Errorf("the return: got %s %s %s", ret.Type, ret.Subject, ret.Data)
	}
	if want := "imp-" + f.SHA256[:16] + "-3"; ret.ID != want {
		t.Errorf("id: got %s, want %s", ret.ID, want)
	}
	ord := evs[3]
	if ord.Type != events.TypeOrderPlaced || string(ord.Data) != `{"order_id":"2","amount":"100.00","currency":"GBP","quantity":10}` {
		t.Errorf("an order: got %s %s", ord.Type, ord.Data)
	}
	tick := evs[4]
	if tick.Type != events.TypeClockTick || !tick.Time.Equal(time.Date(2009, 12, 2, 0, 0, 0, 0, time.UTC)) || tick.ID != "imp-"+f.SHA256[:16]+"-tick" {
		t.Errorf("tick: got %s %s at %s, want the clock.tick at 2009-12-02", tick.ID, tick.Type, tick.Time)
	}

	// Another file, even one byte apart, is another import.
	g := parse(t, body+"\n", o)
	if g.ImportID() == f.ImportID() {
		t.Error("two different files share an import id")
	}
	h := parse(t, body, o)
	if h.Events()[2].ID != evs[2].ID {
		t.Error("the same file twice: got other ids")
	}
}

func TestCSVTimeLayoutAndZone(t *testing.T) {
	o := Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "m", TimeLayout: "02/01/2006 15:04", Now: now}
	f := parse(t, "a,t,m\nX,31/12/2020 23:30,5\nY,2020-12-31,5\n", o)
	if len(f.Rows) != 1 || !f.Rows[0].Time.Equal(time.Date(2020, 12, 31, 23, 30, 0, 0, time.UTC)) || f.Rows[0].Amount != 500 {
		t.Errorf("rows: got %+v", f.Rows)
	}
	if len(f.Bad) != 1 || f.Bad[0].Line != 3 || !strings.Contains(f.Bad[0].Reason, `layout "02/01/2006 15:04"`) {
		t.Errorf("bad: got %v", f.Bad)
	}
	f = parse(t, "a,t,m\nX,2020-12-31T23:30:00+02:00,5\n", Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "m", Now: now})
	if len(f.Rows) != 1 || !f.Rows[0].Time.Equal(time.Date(2020, 12, 31, 21, 30, 0, 0, time.UTC)) {
		t.Errorf("an offset: got %+v %v", f.Rows, f.Bad)
	}
	// A day not over yet gets no closing tick.
	f = parse(t, "a,t,m\nX,2026-06-01 08:00:00,5\n", Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "m", Now: now})
	if evs := f.Events(); len(evs) != 1 {
		t.Errorf("today's rows: got %d events, want 1 without a tick", len(evs))
	}
}

func TestOptionsRefused(t *testing.T) {
	for name, c := range map[string]struct {
		o    Options
		body string
		want string
	}{
		"no mapping":     {Options{Format: FormatCSV, AccountCol: "a"}, "a\n", "amount-col, time-col"},
		"unknown format": {Options{Format: "xlsx"}, "", `format: want cdnow or csv, got "xlsx"`},
		"no column":      {Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "amount"}, "a,t,m\n", `amount-col "amount": no such column`},
		"bad currency":   {Options{Format: FormatCDNOW, Currency: "usd"}, "", `currency: want an ISO 4217 code`},
		"bad rounding":   {Options{Format: FormatCDNOW, Round: "up"}, "", `round: want "half-even"`},
		"empty csv":      {Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "m"}, "", "empty"},
	} {
		_, err := Parse(strings.NewReader(c.body), c.o, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

func TestCDNOWRows(t *testing.T) {
	body := " customer_id  date number_of_cds  dollar_value\r\n" +
		" 00002 19970112 2  77.00\r\n" +
		" 00001 19970101 1  11.77\r\n" +
		" 00003 19970101 1   0.00\r\n" +
		" 00004 1997013 1   1.00\r\n" +
		" 00005 19970101 0   1.00\r\n" +
		" 00006 19970101 1\r\n"
	f := parse(t, body, Options{Format: FormatCDNOW, Now: now})
	if !f.Header || f.Read != 6 || len(f.Rows) != 3 || len(f.Bad) != 3 {
		t.Fatalf("got header %v, %d read, %d rows, bad %v", f.Header, f.Read, len(f.Rows), f.Bad)
	}
	if r := f.Rows[0]; r.Line != 3 || r.Account != "00001" || r.Amount != 1177 || r.Qty != 1 {
		t.Errorf("first row: got %+v", r)
	}
	if r := f.Rows[1]; r.Line != 4 || r.Amount != 0 {
		t.Errorf("the free order: got %+v", r)
	}
	for i, want := range []string{"line 5: date \"1997013\": want YYYYMMDD", "line 6: number of CDs \"0\"", "line 7: want 4 fields"} {
		if !strings.HasPrefix(f.Bad[i].String(), want) {
			t.Errorf("bad row %d: got %q, want %q...", i, f.Bad[i], want)
		}
	}
	evs := f.Events()
	if e := evs[1]; e.Type != events.TypeOrderPlaced || string(e.Data) != `{"order_id":"`+f.ImportID()+`-4","amount":"0.00","currency":"USD","quantity":1}` {
		t.Errorf("free order event: got %s", e.Data)
	}
}

// dataFile finds a file of the shared real data (../shared/data from the
// repository, or $KAM_TEST_DATA), checking its SHA-256 against the README's.
func dataFile(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("KAM_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data %s not found (set KAM_TEST_DATA to its directory): %v", name, err)
	}
	return path
}

func parseFile(t *testing.T, path string, o Options) *File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The figures of shared/data/README.md.
func TestRealCDNOW(t *testing.T) {
	f := parseFile(t, dataFile(t, "CDNOW_master.txt"), Options{Format: FormatCDNOW, Now: now})
	if f.SHA256 != "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef" {
		t.Fatalf("sha256: got %s, want the README's", f.SHA256)
	}
	orders, ordered, returns, _, _ := f.Totals()
	if f.Read != 69659 || len(f.Bad) != 0 || orders != 69659 || returns != 0 || ordered != 250031563 || f.Accounts() != 23570 {
		t.Errorf("got %d rows read, %d bad, %d orders, %s dollars, %d accounts; want 69659, 0, 69659, 2500315.63, 23570",
			f.Read, len(f.Bad), orders, events.FormatMinor(ordered, 2), f.Accounts())
	}
	if tick, ok := f.Tick(); !ok || !tick.Equal(time.Date(1998, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("tick: got %s %v, want 1998-07-01", tick, ok)
	}
}

func TestRealOnlineRetailInvoices(t *testing.T) {
	path := dataFile(t, "online_retail_II_2009-2010_invoices.csv")
	f := parseFile(t, path, retailOptions())
	if f.SHA256 != "adb53ef54b74f2a5a7343039fe8f169b174aca1e4d6b16295b76c34295765758" {
		t.Fatalf("sha256: got %s, want the README's", f.SHA256)
	}
	reasons := map[string]int{}
	for _, b := range f.Bad {
		switch {
		case strings.Contains(b.Reason, "a row needs an account"):
			reasons["no account"]++
		case strings.Contains(b.Reason, "has 3 decimals"):
			reasons["sub-penny"]++
		default:
			t.Errorf("unexpected bad row: %s", b)
		}
	}
	orders, ordered, returns, returned, _ := f.Totals()
	// README: 28,816 invoices; 5,229 without a customer; 14 with a 0.001
	// PADS line (all with a customer); 19,215 sales and 4,372
	// cancellations with a customer.
	if f.Read != 28816 || reasons["no account"] != 5229 || reasons["sub-penny"] != 14 ||
		orders != 19215-14 || returns != 4372 || ordered != 881779589 || returned != 48379470 {
		t.Errorf("got %d read, bad %v, %d orders £%s, %d returns £%s; want 28816, 5229 without account and 14 sub-penny, 19201 orders £8817795.89, 4372 returns £483794.70",
			f.Read, reasons, orders, events.FormatMinor(ordered, 2), returns, events.FormatMinor(returned, 2))
	}
	o := retailOptions()
	o.Round = RoundHalfEven
	f = parseFile(t, path, o)
	orders, ordered, returns, returned, rounded := f.Totals()
	// Rounded, the sales sum to the README's gross £8,832,003.27 less the
	// rounding of the 14 sub-penny invoices; net of returns it is the
	// README's £8,348,208.57 less the same penny.
	if len(f.Bad) != 5229 || orders != 19215 || rounded != 14 || ordered != 883200326 || returns != 4372 || f.Accounts() != 4383 ||
		ordered-returned != 834820856 {
		t.Errorf("rounded: got %d bad, %d orders £%s (%d rounded), %d returns, %d accounts; want 5229, 19215 £8832003.26 (14), 4372, 4383",
			len(f.Bad), orders, events.FormatMinor(ordered, 2), rounded, returns, f.Accounts())
	}
}

func TestCSVMalformedRowsGoOn(t *testing.T) {
	o := Options{Format: FormatCSV, AccountCol: "a", TimeCol: "t", AmountCol: "m", OrderCol: "o", Now: now}
	body := "a,t,m,o\n" +
		"X,2020-01-01,1.00,\"quoted, with comma\"\n" + // line 2: fine
		"Y,2020-01-01,2.00,bad\"quote\n" + // line 3: a bare quote
		"Z,2020-01-02,3.00,ok\n" + // line 4
		"W,2020-01-02,4.00,\"open\n" // line 5: a quote never closed
	f := parse(t, body, o)
	if len(f.Rows) != 2 || f.Rows[0].OrderID != "quoted, with comma" || f.Rows[1].Account != "Z" {
		t.Errorf("rows: got %+v, want X and Z", f.Rows)
	}
	if len(f.Bad) != 2 || f.Bad[0].Line != 3 || !strings.Contains(f.Bad[0].Reason, "malformed CSV") || f.Bad[1].Line != 5 {
		t.Errorf("bad: got %v, want lines 3 and 5 malformed", f.Bad)
	}
	if f.Read != 4 {
		t.Errorf("read: got %d, want 4", f.Read)
	}
}

// TestCSVNegativeZeroAndOpenQuote: "-0.00" is neither an order nor a return;
// a quote left open, which swallows the lines after it, is reported with the
// lines it swallowed, not as one bad row among the rest.
func TestCSVNegativeZeroAndOpenQuote(t *testing.T) {
	body := retailHeader +
		"2,13085,2009-12-01 09:00:00,UK,1,-1,-0.00,cancellation\n" + // line 2: a negative zero
		"3,13085,2009-12-01 09:00:00,UK,1,1,1.00,sale\n" + // line 3: good
		"4,13086,2009-12-01 09:00:00,\"UK,1,1,2.00,sale\n" + // line 4: a quote left open
		"5,13086,2009-12-01 10:00:00,UK,1,1,3.00,sale\n" +
		"6,13086,2009-12-01 11:00:00,UK,1,1,4.00,sale\n"
	f := parse(t, body, retailOptions())
	var bad []string
	for _, b := range f.Bad {
		bad = append(bad, b.String())
	}
	want := []string{
		"line 2: amount_gbp -0.00 is a negative zero: neither an order nor a return",
		`line 4: malformed CSV: extraneous or missing " in quoted-field: the record runs from line 4 to line 6, whose rows are not read`,
	}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Errorf("bad rows:\ngot\n%s\nwant\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	if len(f.Rows) != 1 || f.Rows[0].Line != 3 {
		t.Errorf("good rows: got %+v, want line 3 only", f.Rows)
	}

	o := retailOptions()
	o.Round = RoundHalfEven
	f = parse(t, retailHeader+"2,13085,2009-12-01 09:00:00,UK,1,-1,-0.000,cancellation\n", o)
	if len(f.Bad) != 1 || !strings.Contains(f.Bad[0].Reason, "negative zero") {
		t.Errorf("-0.000 with rounding: got %v, want a negative zero", f.Bad)
	}
}

// The importer's decimals come from kam's one ISO 4217 table, the policy's.
func TestCurrencyDigitsFromTheISOTable(t *testing.T) {
	for _, code := range []string{"USD", "EUR", "JPY", "BHD", "XPF", "KMF", "GNF", "RWF", "CLF", "UYW"} {
		want, ok := events.CurrencyDigits(code)
		if !ok {
			t.Fatalf("%s: not in events' table", code)
		}
		if got := CurrencyDigits(code); got != want {
			t.Errorf("CurrencyDigits(%s): got %d, want %d", code, got, want)
		}
	}
	// A code not in the table keeps the importer's default of 2 decimals.
	if got := CurrencyDigits("ABC"); got != 2 {
		t.Errorf("CurrencyDigits(ABC): got %d, want 2", got)
	}
	// The CFP franc has no decimals: an amount in cents is a bad row.
	f := parse(t, " 00001 19970101 1  11.77\r\n 00002 19970101 1  12\r\n", Options{Format: FormatCDNOW, Currency: "XPF", Now: now})
	if len(f.Rows) != 1 || len(f.Bad) != 1 || !strings.Contains(f.Bad[0].String(), "XPF has 0") {
		t.Errorf("XPF: got %d rows and bad %v, want 1 row and 11.77 refused as XPF has 0 decimals", len(f.Rows), f.Bad)
	}
}
