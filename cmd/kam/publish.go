package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"kam/events"
	"kam/handlers"
)

func init() {
	register(command{name: "publish", usage: "append NDJSON events (a file or -) through a running kam", run: (*Main).publish})
}

// apiClient talks to a running kam over HTTP.
type apiClient struct {
	url   string
	token string
	http  *http.Client
}

func newAPIClient(url, token string) *apiClient {
	return &apiClient{url: strings.TrimRight(url, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}
}

// do sends a request and decodes a JSON answer into out; an answer with an
// error body comes back as an error carrying its message.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if method != http.MethodGet && method != http.MethodHead {
		// kam refuses a request that changes state without a JSON type,
		// even one with no body (POST /v1/admin/rebuild).
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, err
	}
	if resp.StatusCode >= 400 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
			return resp.StatusCode, resp.Header, fmt.Errorf("%s (%d %s)", eb.Error.Message, resp.StatusCode, eb.Error.Code)
		}
		return resp.StatusCode, resp.Header, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// publishSummary counts what a publish did.
type publishSummary struct {
	Lines      int
	Appended   int
	Duplicates int
	Refused    []string // "line N: reason"
}

func (m *Main) publish(ctx context.Context, args []string) error {
	fs := m.flagSet("publish")
	url := fs.String("url", "http://127.0.0.1:8080", "kam's HTTP address")
	token := fs.String("token", "", "API token (Authorization: Bearer)")
	batch := fs.Int("batch", 500, "events per request (at most 1000)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: kam publish [--url URL] FILE|-")
	}
	in := m.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	p := &publisher{client: newAPIClient(*url, *token), batch: min(max(*batch, 1), 1000), progress: m.terminal()}
	sum, err := p.run(ctx, in, m.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "lines %d, appended %d, duplicates %d, refused %d\n", sum.Lines, sum.Appended, sum.Duplicates, len(sum.Refused))
	for _, r := range sum.Refused {
		fmt.Fprintln(m.Stdout, "  refused "+r)
	}
	if len(sum.Refused) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("kam publish: %d events refused", len(sum.Refused))}
	}
	return nil
}

// terminal reports whether stderr is a terminal, where progress lines go.
func (m *Main) terminal() bool {
	f, ok := m.Stderr.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type publisher struct {
	client   *apiClient
	batch    int // events a request holds at most
	maxBytes int // bytes of events a request holds at most (0: maxBatchBytes)
	progress bool
}

// maxBatchBytes is a request's size at most, under kam's default --max-body.
const maxBatchBytes = 3 << 20

// full reports whether a batch of n events, size bytes with a separator
// each, can take no event of more bytes: its body, a JSON array, would be
// size+more+2 bytes.
func (p *publisher) full(n, size, more int) bool {
	return n > 0 && (n >= p.batch || size+more+2 > cmp.Or(p.maxBytes, maxBatchBytes))
}

// arrayOf is raws as one JSON array, each as it is: json.Marshal would
// escape <, > and & in them, six bytes for one, past the size full counted.
func arrayOf(raws []json.RawMessage) []byte {
	n := 2
	for _, r := range raws {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, r := range raws {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, ']')
}

// tooLarge handles a 413 for a batch whose body had body bytes: the batch
// goes again in parts that fit, and later batches are made to fit too. kam
// gives its limits (its --max-batch and --max-body) in its answer's
// headers; a 413 without them (a proxy's, an older kam's) is taken as a
// limit on bytes at half the refused body, lowered again by each 413
// after. One event over the limit is refused, and the rest goes on.
func (p *publisher) tooLarge(ctx context.Context, hdr http.Header, body int, raws []json.RawMessage, lines []int, sum *publishSummary, err error) error {
	if len(raws) == 1 {
		sum.Refused = append(sum.Refused, fmt.Sprintf("line %d: %v", lines[0], err))
		return nil
	}
	limit := cmp.Or(p.maxBytes, maxBatchBytes)
	maxBatch, e1 := strconv.Atoi(hdr.Get(handlers.HeaderMaxBatch))
	maxBody, e2 := strconv.Atoi(hdr.Get(handlers.HeaderMaxBody))
	if e1 == nil && e2 == nil && maxBatch > 0 && maxBody > 0 {
		p.batch, p.maxBytes = min(p.batch, maxBatch), min(limit, maxBody)
	} else {
		p.maxBytes = max(1, min(limit, body/2))
	}
	start, size := 0, 0
	for i, raw := range raws {
		if p.full(i-start, size, len(raw)) {
			if err := p.send(ctx, raws[start:i], lines[start:i], sum); err != nil {
				return err
			}
			start, size = i, 0
		}
		size += len(raw) + 1
	}
	if start == 0 {
		// It fits the limits kam gave, and kam refused it all the same.
		half := len(raws) / 2
		if err := p.send(ctx, raws[:half], lines[:half], sum); err != nil {
			return err
		}
		start = half
	}
	return p.send(ctx, raws[start:], lines[start:], sum)
}

func (p *publisher) run(ctx context.Context, in io.Reader, stderr io.Writer) (*publishSummary, error) {
	sum := &publishSummary{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var (
		lines []int
		raws  []json.RawMessage
		size  int
		start = time.Now()
		line  int
	)
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		if err := p.send(ctx, raws, lines, sum); err != nil {
			return err
		}
		lines, raws, size = nil, nil, 0
		if p.progress {
			rate := float64(sum.Lines) / time.Since(start).Seconds()
			fmt.Fprintf(stderr, "\r%d lines, %d appended, %d duplicates, %d refused, %.0f/s ", sum.Lines, sum.Appended, sum.Duplicates, len(sum.Refused), rate)
		}
		return nil
	}
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		sum.Lines++
		if !json.Valid(raw) {
			sum.Refused = append(sum.Refused, fmt.Sprintf("line %d: not valid JSON", line))
			continue
		}
		raw = withID(raw)
		if p.full(len(lines), size, len(raw)) {
			if err := flush(); err != nil {
				return sum, err
			}
		}
		raws = append(raws, json.RawMessage(bytes.Clone(raw)))
		size += len(raw) + 1
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return sum, err
	}
	if p.progress {
		fmt.Fprintln(stderr)
	}
	return sum, nil
}

// withID gives an event without an id a UUIDv7 before it is sent, so that a
// retried request cannot append it twice. Anything else is sent as it is,
// for the server to judge.
func withID(raw []byte) []byte {
	e, err := events.Decode(raw, true)
	if err != nil || e.ID != "" {
		return raw
	}
	e.ID = uuid.Must(uuid.NewV7()).String()
	b, err := e.MarshalJSON()
	if err != nil {
		return raw
	}
	return b
}

// send posts one batch with per-event results. While kam answers 503, or
// reports single events as unavailable, it waits and sends those again: the
// ids make a resend safe.
func (p *publisher) send(ctx context.Context, raws []json.RawMessage, lines []int, sum *publishSummary) error {
	wait := 250 * time.Millisecond
	for attempt := 0; len(raws) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			wait = min(2*wait, 5*time.Second)
		}
		body := arrayOf(raws)
		var out struct {
			Results []struct {
				Index     int    `json:"index"`
				Seq       uint64 `json:"seq"`
				Duplicate bool   `json:"duplicate"`
				Error     *struct {
					Code    string              `json:"code"`
					Message string              `json:"message"`
					Details []events.FieldError `json:"details"`
				} `json:"error"`
			} `json:"results"`
		}
		status, hdr, err := p.client.do(ctx, http.MethodPost, "/v1/events?partial=true", body, &out)
		if status == http.StatusRequestEntityTooLarge {
			return p.tooLarge(ctx, hdr, len(body), raws, lines, sum, err)
		}
		if err != nil {
			retriable := status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests || status == 0
			if !retriable || attempt >= maxSendAttempts {
				return fmt.Errorf("%s: %w", lineSpan(lines), err)
			}
			if s, e := strconv.Atoi(hdr.Get("Retry-After")); e == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			continue
		}
		var againRaws []json.RawMessage
		var againLines []int
		for _, r := range out.Results {
			if r.Index < 0 || r.Index >= len(lines) {
				return fmt.Errorf("kam answered a result for index %d of a %d-event batch", r.Index, len(lines))
			}
			switch {
			case r.Error != nil && r.Error.Code == events.EUnavailable && attempt < maxSendAttempts:
				againRaws = append(againRaws, raws[r.Index])
				againLines = append(againLines, lines[r.Index])
			case r.Error != nil:
				reason := r.Error.Message
				if len(r.Error.Details) > 0 {
					parts := make([]string, len(r.Error.Details))
					for i, d := range r.Error.Details {
						parts[i] = d.String()
					}
					reason = strings.Join(parts, "; ")
				}
				sum.Refused = append(sum.Refused, fmt.Sprintf("line %d: %s", lines[r.Index], reason))
			case r.Duplicate:
				sum.Duplicates++
			default:
				sum.Appended++
			}
		}
		raws, lines = againRaws, againLines
	}
	return nil
}

const maxSendAttempts = 20

// lineSpan names the input lines of a batch in an error (an import sends
// them in business-time order, not the file's). Line 0 is no line of the
// input: only kam import's closing tick has it, and goes alone.
func lineSpan(lines []int) string {
	if len(lines) == 1 && lines[0] == 0 {
		return "closing tick"
	}
	if len(lines) == 1 {
		return fmt.Sprintf("line %d", lines[0])
	}
	return fmt.Sprintf("%d events of lines %d-%d", len(lines), slices.Min(lines), slices.Max(lines))
}
