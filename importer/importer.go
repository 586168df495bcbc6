// Package importer turns order histories (the CDNOW master log, or any CSV
// mapped by column names) into kam events: it parses rows, reports each bad
// row with its line and reason, sorts the rest by business time (then file
// order), and builds one order.placed or order.returned per row with ids
// derived from the file's content hash and the row's line, so that importing
// the same file twice appends nothing new. It reads files; it never talks to
// kam (cmd/kam does).
package importer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kam/events"
)

// Formats.
const (
	FormatCDNOW = "cdnow"
	FormatCSV   = "csv"
)

// RoundHalfEven is the one rounding mode: amounts finer than the currency's
// minor unit are rounded to it, ties to even.
const RoundHalfEven = "half-even"

// Options say how to read a file.
type Options struct {
	Format string // FormatCDNOW or FormatCSV

	// The CSV mapping: header names of the columns. Account, Time and
	// Amount are required; Order and Qty are optional.
	AccountCol, TimeCol, AmountCol, OrderCol, QtyCol string
	// TimeLayout is a Go time layout; empty tries RFC 3339,
	// "2006-01-02 15:04:05", "2006-01-02T15:04:05" and "2006-01-02".
	// Times without a zone are UTC.
	TimeLayout string

	// Currency of the amounts (default USD) and its decimals (Digits < 0,
	// or the zero Options: from ISO 4217 for the codes kam knows, else 2).
	// Order events name it, so a kam of another currency refuses them.
	Currency string
	Digits   int
	// Round is "" (an amount finer than the minor unit is a bad row) or
	// RoundHalfEven.
	Round string

	// Now bounds business time: a row more than five minutes after it is
	// a bad row (kam would refuse it as from the future), and no closing
	// tick is made for a day not over by Now. Zero means time.Now().
	Now time.Time
}

// CurrencyDigits returns the decimals of an ISO 4217 currency, from kam's
// one table (events.CurrencyDigits); 2 for codes not listed.
func CurrencyDigits(code string) int {
	if d, ok := events.CurrencyDigits(code); ok {
		return d
	}
	return 2
}

func (o *Options) defaults() error {
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if len(o.Currency) != 3 || strings.ToUpper(o.Currency) != o.Currency {
		return fmt.Errorf("currency: want an ISO 4217 code such as USD, got %q", o.Currency)
	}
	if o.Digits <= 0 {
		o.Digits = CurrencyDigits(o.Currency)
	}
	if o.Round != "" && o.Round != RoundHalfEven {
		return fmt.Errorf("round: want %q or nothing, got %q", RoundHalfEven, o.Round)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	switch o.Format {
	case FormatCDNOW:
	case FormatCSV:
		var missing []string
		for name, v := range map[string]string{"account-col": o.AccountCol, "time-col": o.TimeCol, "amount-col": o.AmountCol} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("format csv: the mapping needs %s (header names of the columns), or give format cdnow for the CDNOW log", strings.Join(missing, ", "))
		}
	default:
		return fmt.Errorf("format: want %s or %s, got %q", FormatCDNOW, FormatCSV, o.Format)
	}
	return nil
}

// Row is one good row: an order (Amount >= 0) or a return (Amount < 0).
type Row struct {
	Line    int // 1-based line of the file where the row starts
	Account string
	Time    time.Time
	Amount  int64  // minor units; negative for a return
	OrderID string // from the order column, or empty
	Qty     int64  // 0 when not given
	Rounded bool   // the amount was rounded to the minor unit
}

// BadRow is a row that is not imported, and why.
type BadRow struct {
	Line   int
	Reason string
	Text   string // the row as read (at most 200 bytes)
}

func (b BadRow) String() string { return fmt.Sprintf("line %d: %s", b.Line, b.Reason) }

// File is a parsed file.
type File struct {
	Options Options
	SHA256  string // hex, of the file's bytes
	Header  bool   // the first line was a header
	Rows    []Row  // good rows, sorted by time, then line
	Bad     []BadRow
	Read    int // data rows read (good and bad), without the header
}

// Parse reads a whole file. It fails only when the file cannot be read or
// the options are wrong (the error names the option); a row that cannot be
// imported is a BadRow, never dropped. progress, when not nil, is called now
// and then with the bytes read so far.
func Parse(r io.Reader, o Options, progress func(bytesRead int64)) (*File, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h), progress: progress}
	f := &File{Options: o}
	var err error
	switch o.Format {
	case FormatCDNOW:
		err = f.parseCDNOW(cr)
	case FormatCSV:
		err = f.parseCSV(cr)
	}
	if err != nil {
		return nil, err
	}
	// Whatever the parser left unread still belongs to the content.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, err
	}
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	slices.SortStableFunc(f.Rows, func(a, b Row) int { return a.Time.Compare(b.Time) })
	slices.SortFunc(f.Bad, func(a, b BadRow) int { return a.Line - b.Line })
	return f, nil
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}

func clip(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

func (f *File) bad(line int, text, format string, args ...any) {
	f.Bad = append(f.Bad, BadRow{Line: line, Reason: fmt.Sprintf(format, args...), Text: clip(text)})
}

// parseCDNOW reads the CDNOW master log: customer id, YYYYMMDD, CDs and
// dollars, separated by runs of spaces (CRLF line ends; an optional header).
func (f *File) parseCDNOW(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if line == 1 && (fields[0][0] < '0' || fields[0][0] > '9') {
			f.Header = true
			continue
		}
		f.Read++
		if len(fields) != 4 {
			f.bad(line, text, "want 4 fields (customer id, date YYYYMMDD, CDs, dollars), got %d", len(fields))
			continue
		}
		t, err := time.Parse("20060102", fields[1])
		if err != nil {
			f.bad(line, text, "date %q: want YYYYMMDD", fields[1])
			continue
		}
		cds, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || cds < 1 {
			f.bad(line, text, "number of CDs %q: want an integer of at least 1", fields[2])
			continue
		}
		row := Row{Line: line, Account: fields[0], Time: t, Qty: cds}
		if !f.amount(&row, fields[3], "dollar value", text) {
			continue
		}
		if row.Amount < 0 {
			// The log has no returns: a negative value is a mistake.
			f.bad(line, text, "dollar value %s is negative; CDNOW rows are purchases", fields[3])
			continue
		}
		f.add(row, text)
	}
	return sc.Err()
}

// amount parses a decimal into row.Amount in minor units, rounding when
// asked; it records a bad row and returns false when it cannot.
func (f *File) amount(row *Row, s, col, text string) bool {
	o := f.Options
	d, err := events.ParseDecimal(strings.TrimSpace(s))
	if err != nil {
		f.bad(row.Line, text, "%s %q %v", col, s, err)
		return false
	}
	units, scale := d.Units, d.Scale
	if scale > o.Digits {
		if o.Round != RoundHalfEven {
			f.bad(row.Line, text, "%s %s has %d decimals, %s has %d (give --round %s to round it)", col, s, scale, o.Currency, o.Digits, RoundHalfEven)
			return false
		}
		units = roundHalfEven(units, scale-o.Digits)
		scale = o.Digits
		row.Rounded = true
		if units == 0 && d.Units < 0 {
			f.bad(row.Line, text, "%s %s rounds to 0: neither an order nor a return", col, s)
			return false
		}
	}
	if units == 0 && strings.HasPrefix(strings.TrimSpace(s), "-") {
		f.bad(row.Line, text, "%s %s is a negative zero: neither an order nor a return", col, s)
		return false
	}
	for ; scale < o.Digits; scale++ {
		units *= 10 // at most 18 digits were parsed, and Digits is small
	}
	if units > events.MaxAmount || units < -events.MaxAmount {
		f.bad(row.Line, text, "%s %s is too large: at most %s", col, s, events.FormatMinor(events.MaxAmount, o.Digits))
		return false
	}
	row.Amount = units
	return true
}

// roundHalfEven divides v by 10^drop, rounding half to even.
func roundHalfEven(v int64, drop int) int64 {
	neg := v < 0
	if neg {
		v = -v
	}
	p := int64(1)
	for i := 0; i < drop; i++ {
		p *= 10
	}
	q, r := v/p, v%p
	if 2*r > p || (2*r == p && q%2 == 1) {
		q++
	}
	if neg {
		q = -q
	}
	return q
}

// add keeps a row that also passes the checks kam would make on its event.
func (f *File) add(row Row, text string) {
	o := f.Options
	if row.Account == "" {
		f.bad(row.Line, text, "no account: a row needs one")
		return
	}
	if row.Time.After(o.Now.Add(events.DefaultFutureTolerance)) {
		f.bad(row.Line, text, "time %s is in the future", row.Time.Format(time.RFC3339))
		return
	}
	e := f.event(row, strings.Repeat("0", 16))
	if _, err := events.Validate(e, events.Rules{Currency: o.Currency, Digits: o.Digits}); err != nil {
		f.bad(row.Line, text, "%s", strings.TrimPrefix(err.Error(), "invalid event: "))
		return
	}
	f.Rows = append(f.Rows, row)
}

// parseCSV reads a CSV file with a header, mapped by Options' column names.
func (f *File) parseCSV(r io.Reader) error {
	o := f.Options
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty: want a header line")
		}
		return fmt.Errorf("header: %w", err)
	}
	f.Header = true
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := index[h]; !dup {
			index[h] = i
		}
	}
	col := func(flag, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("%s %q: no such column in the header (%s)", flag, name, strings.Join(header, ", "))
		}
		return i, nil
	}
	var cols [5]int
	for i, c := range []struct{ flag, name string }{
		{"account-col", o.AccountCol}, {"time-col", o.TimeCol}, {"amount-col", o.AmountCol}, {"order-col", o.OrderCol}, {"qty-col", o.QtyCol},
	} {
		if cols[i], err = col(c.flag, c.name); err != nil {
			return err
		}
	}
	need := slices.Max(cols[:]) + 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			f.Read++
			if pe.Line > pe.StartLine {
				// A quote left open swallows the lines after it into one
				// field: say so, they are not read as rows.
				f.bad(pe.StartLine, "", "malformed CSV: %v: the record runs from line %d to line %d, whose rows are not read",
					pe.Err, pe.StartLine, pe.Line)
			} else {
				f.bad(pe.StartLine, "", "malformed CSV: %v", pe.Err)
			}
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		f.Read++
		text := strings.Join(rec, ",")
		if len(rec) < need {
			f.bad(line, text, "has %d fields, the mapping needs at least %d", len(rec), need)
			continue
		}
		row := Row{Line: line, Account: strings.TrimSpace(rec[cols[0]])}
		if row.Account == "" {
			f.bad(line, text, "%s is empty: a row needs an account", o.AccountCol)
			continue
		}
		if row.Time, err = parseTime(strings.TrimSpace(rec[cols[1]]), o.TimeLayout); err != nil {
			f.bad(line, text, "%s %q: %v", o.TimeCol, rec[cols[1]], err)
			continue
		}
		if !f.amount(&row, rec[cols[2]], o.AmountCol, text) {
			continue
		}
		if cols[3] >= 0 {
			row.OrderID = strings.TrimSpace(rec[cols[3]])
		}
		if cols[4] >= 0 {
			s := strings.TrimSpace(rec[cols[4]])
			q, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				f.bad(line, text, "%s %q: want an integer", o.QtyCol, s)
				continue
			}
			switch {
			case row.Amount >= 0 && q < 1:
				f.bad(line, text, "%s %d: an order needs a quantity of at least 1", o.QtyCol, q)
				continue
			case row.Amount >= 0:
				row.Qty = q
			}
			// A return's quantity (negative in most files) is not kept.
		}
		f.add(row, text)
	}
}

var autoLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s, layout string) (time.Time, error) {
	if layout != "" {
		t, err := time.Parse(layout, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("does not match the layout %q", layout)
		}
		return t.UTC(), nil
	}
	for _, l := range autoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New(`want RFC 3339, "2006-01-02 15:04:05" or "2006-01-02" (or give --time-layout)`)
}

// Accounts counts the distinct accounts of the good rows.
func (f *File) Accounts() int {
	seen := make(map[string]struct{}, len(f.Rows)/2)
	for _, r := range f.Rows {
		seen[r.Account] = struct{}{}
	}
	return len(seen)
}

// Totals sums the good rows: orders and their amount, returns and theirs
// (positive), and how many amounts were rounded.
func (f *File) Totals() (orders int, ordered int64, returns int, returned int64, rounded int) {
	for _, r := range f.Rows {
		if r.Amount >= 0 {
			orders++
			ordered += r.Amount
		} else {
			returns++
			returned -= r.Amount
		}
		if r.Rounded {
			rounded++
		}
	}
	return
}

// ImportID names one import: the first 16 hex digits of the file's SHA-256.
// Every event id of the import starts with "imp-" and it.
func (f *File) ImportID() string { return f.SHA256[:16] }

// Source is the source attribute of imported events.
func (f *File) Source() string { return "kam-import/" + f.Options.Format }

type orderData struct {
	OrderID  string `json:"order_id"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Quantity int64  `json:"quantity,omitempty"`
}

type returnData struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	// Reference is the row's document (a credit note's number): kept, not
	// interpreted. order_id would claim the order it reverses, which the
	// files do not say.
	Reference string `json:"reference,omitempty"`
}

// event builds the event of one row. An order without an order id in the
// file gets "<import id>-<line>".
func (f *File) event(r Row, importID string) *events.Event {
	o := f.Options
	e := &events.Event{
		SpecVersion: events.SpecVersion, ID: "imp-" + importID + "-" + strconv.Itoa(r.Line), Source: f.Source(),
		Subject: r.Account, Time: r.Time, CorrelationID: "import-" + importID,
	}
	var data any
	if r.Amount >= 0 {
		e.Type = events.TypeOrderPlaced
		id := r.OrderID
		if id == "" {
			id = importID + "-" + strconv.Itoa(r.Line)
		}
		data = orderData{OrderID: id, Amount: events.FormatMinor(r.Amount, o.Digits), Currency: o.Currency, Quantity: r.Qty}
	} else {
		e.Type = events.TypeOrderReturned
		data = returnData{Amount: events.FormatMinor(-r.Amount, o.Digits), Currency: o.Currency, Reference: r.OrderID}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		panic(err) // our own structs of strings and integers
	}
	e.Data = bytes.TrimSpace(b.Bytes())
	return e
}

// Events returns the events of the good rows in order, then the clock.tick
// at the midnight after the last row's day, which closes it (none when that
// midnight is after Now: the day is not over, and kam serve's daily tick
// will close it). The tick's id is "imp-<import id>-tick".
func (f *File) Events() []*events.Event {
	id := f.ImportID()
	out := make([]*events.Event, 0, len(f.Rows)+1)
	for _, r := range f.Rows {
		out = append(out, f.event(r, id))
	}
	if tick, ok := f.Tick(); ok {
		out = append(out, &events.Event{SpecVersion: events.SpecVersion, ID: "imp-" + id + "-tick", Source: f.Source(),
			Type: events.TypeClockTick, Time: tick, CorrelationID: "import-" + id})
	}
	return out
}

// Tick is the time of the closing tick, and whether there is one.
func (f *File) Tick() (time.Time, bool) {
	if len(f.Rows) == 0 {
		return time.Time{}, false
	}
	tick := f.Rows[len(f.Rows)-1].Time.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if tick.After(f.Options.Now) {
		return tick, false
	}
	return tick, true
}
