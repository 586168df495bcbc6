package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"kam/events/natsstore"
	"kam/projections"
)

func init() {
	register(command{name: "verify", usage: "prove the read model is what the log implies: rebuild and compare digests; --chain checks the hash chains", run: (*Main).verify})
}

// verify rebuilds the read model from the stream into a temporary file
// under the serving model's policy, up to the sequence the serving model
// has applied, and compares the two table by table.
func (m *Main) verify(ctx context.Context, args []string) error {
	fs := m.flagSet("verify")
	var acc streamAccess
	acc.register(fs)
	url := fs.String("url", "", "a running kam's HTTP address (then the stream is read through --nats-url, or the NATS URL kam reports)")
	token := fs.String("token", "", "API token with the audit and admin scopes (for --url)")
	chainMode := fs.Bool("chain", false, "recompute every account's hash chain from the stream and compare it with the read model's")
	against := fs.String("against", "", "with --chain: compare with a list filed earlier (what --chain printed: its header, then TOKEN LENGTH HEAD [label] a chain) instead")
	quiet := fs.Bool("quiet", false, "no progress line")
	memLimit := fs.Int("memory-limit", 440, "MiB: the Go heap's soft limit for the rebuild (see kam replay)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *against != "" && !*chainMode {
		return fmt.Errorf("--against FILE compares hash chains: give it with --chain")
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var serving servingModel
	var err error
	if *url != "" {
		serving, err = remoteModel(ctx, newAPIClient(*url, *token))
		if err == nil && acc.nats.url == "" {
			acc.nats.url = serving.natsURL
		}
	} else {
		serving, err = localModel(acc.dataDir)
	}
	if err != nil {
		return err
	}
	defer serving.close()
	js, stream, closeStream, err := acc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeStream()
	acc.setMemoryLimit(*memLimit)
	if *chainMode {
		return m.verifyChains(ctx, js, stream, serving, *against)
	}

	// A model ahead of the stream cannot be rebuilt: the rebuild would wait
	// for sequences that never come.
	if info, err := stream.Info(ctx); err != nil {
		return err
	} else if serving.applied > info.State.LastSeq {
		return &exitError{code: 1, msg: fmt.Sprintf("kam verify: the read model %s has applied up to sequence %d, but stream %s ends at %d: "+
			"it was not built from this stream (wiped or replaced since)", serving.name, serving.applied, acc.nats.stream, info.State.LastSeq)}
	}
	dir, err := os.MkdirTemp("", "kam-verify")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fresh := filepath.Join(dir, "verify.db")
	res, err := buildReadModel(ctx, js, acc.nats.stream, fresh, serving.policy, serving.applied, projections.RunOptions{MaxBatch: replayBatch},
		progressWriter(m, *quiet), log)
	if err != nil {
		return err
	}
	if res.Status.AppliedSeq != serving.applied {
		return fmt.Errorf("the rebuild stopped at sequence %d, the serving model is at %d", res.Status.AppliedSeq, serving.applied)
	}
	rebuilt, err := projections.OpenDB(fresh)
	if err != nil {
		return err
	}
	defer rebuilt.Close()
	want, err := projections.Digest(ctx, rebuilt.Reader())
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "read model %s at sequence %d, policy %s; rebuilt from stream %s\n",
		serving.name, serving.applied, serving.policy.ShortVersion(), acc.nats.stream)
	differ := 0
	have := map[string]projections.TableDigest{}
	for _, d := range serving.digests {
		have[d.Table] = d
	}
	for _, w := range want {
		g, ok := have[w.Table]
		if !ok {
			differ++
			fmt.Fprintf(m.Stdout, "  %-16s DIFFERS: the serving model lists no digest of it (a kam of another version?)\n", w.Table)
			continue
		}
		if g == w {
			fmt.Fprintf(m.Stdout, "  %-16s %8d rows  sha256 %s  equal\n", w.Table, w.Rows, w.SHA256)
			continue
		}
		differ++
		fmt.Fprintf(m.Stdout, "  %-16s DIFFERS: serving %d rows sha256 %s, rebuilt %d rows sha256 %s\n", w.Table, g.Rows, g.SHA256, w.Rows, w.SHA256)
		rows, err := firstDifference(ctx, serving, rebuilt, w.Table)
		if err != nil {
			return err
		}
		fmt.Fprint(m.Stdout, rows)
	}
	if differ > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("kam verify: %d tables differ from what the log implies%s", differ, serving.otherRules())}
	}
	fmt.Fprintln(m.Stdout, "the read model is exactly what the log implies")
	return nil
}

// servingModel is the read model being verified: a local file, or a
// running kam's.
type servingModel struct {
	name    string
	rules   int // the version of kam's rules that built it (0: not known)
	applied uint64
	policy  *projections.Policy
	digests []projections.TableDigest
	natsURL string
	// rows returns up to limit rows of a table in primary-key order from offset.
	rows  func(ctx context.Context, table string, offset, limit int) ([][]any, error)
	close func()
}

// otherRules says, for a model built by other rules than kam's, that this
// alone can make it differ from a rebuild ("" for a model of kam's rules).
func (s servingModel) otherRules() string {
	if s.rules == 0 || s.rules == projections.RulesVersion {
		return ""
	}
	return fmt.Sprintf(" (the model was built by version %d of kam's rules, this kam applies version %d: "+
		"that alone makes it differ; rebuild it with kam serve --rebuild, then verify again)", s.rules, projections.RulesVersion)
}

func localModel(dataDir string) (servingModel, error) {
	path, err := filepath.EvalSymlinks(projections.ServingPath(dataDir))
	if err != nil {
		return servingModel{}, fmt.Errorf("no read model in %s: %w", dataDir, err)
	}
	pol, err := projections.StoredPolicy(path)
	if err != nil || pol == nil {
		return servingModel{}, fmt.Errorf("%s holds no policy: %v", path, err)
	}
	// Read only: verify must not change the file it checks (no migration
	// runs, nothing is written).
	db, err := projections.OpenReadOnly(path)
	if err != nil {
		return servingModel{}, err
	}
	applied, d, err := projections.SnapshotDigest(context.Background(), db)
	if err != nil {
		db.Close()
		return servingModel{}, err
	}
	var rules int
	_ = db.QueryRow(`SELECT rules FROM projector_state WHERE id = 1`).Scan(&rules) // 0 when not kept
	return servingModel{name: path, rules: rules, applied: applied, policy: pol, digests: d,
		rows: func(ctx context.Context, table string, offset, limit int) ([][]any, error) {
			// A running kam may be writing the file: rows of a later
			// state than the digests are not compared, as with --url.
			now, rows, err := projections.SnapshotRows(ctx, db, table, offset, limit)
			if err == nil && now != applied {
				return nil, errModelMoved
			}
			return rows, err
		},
		close: func() { db.Close() }}, nil
}

func remoteModel(ctx context.Context, c *apiClient) (servingModel, error) {
	var dig struct {
		AppliedSeq uint64                    `json:"applied_seq"`
		Tables     []projections.TableDigest `json:"tables"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, "/v1/admin/digest", nil, &dig); err != nil {
		return servingModel{}, err
	}
	var pol json.RawMessage
	if _, _, err := c.do(ctx, http.MethodGet, "/v1/admin/policy", nil, &pol); err != nil {
		return servingModel{}, err
	}
	p, err := projections.ParseStoredPolicy(pol)
	if err != nil {
		return servingModel{}, err
	}
	var st struct {
		NATS      struct{ URL string } `json:"nats"`
		Projector struct {
			Rules int `json:"rules"`
		} `json:"projector"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return servingModel{}, err
	}
	return servingModel{name: c.url, rules: st.Projector.Rules, applied: dig.AppliedSeq, policy: p, digests: dig.Tables, natsURL: st.NATS.URL,
		rows: func(ctx context.Context, table string, offset, limit int) ([][]any, error) {
			var out struct {
				Rows [][]any `json:"rows"`
			}
			path := fmt.Sprintf("/v1/admin/rows?table=%s&offset=%d&limit=%d&applied_seq=%d", table, offset, limit, dig.AppliedSeq)
			if status, _, err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
				if status == http.StatusConflict {
					return nil, fmt.Errorf("%w: %v", errModelMoved, err)
				}
				return nil, err
			}
			return out.Rows, nil
		},
		close: func() {}}, nil
}

// errModelMoved is a running kam's answer for rows of a model that has
// applied more since the digests verify compared.
var errModelMoved = errors.New("the serving model has applied more since its digests")

// firstDifference finds the first rows where a table differs and says which.
func firstDifference(ctx context.Context, serving servingModel, rebuilt *projections.DB, table string) (string, error) {
	const page = 1000
	for offset := 0; ; offset += page {
		// One row more than a page: the look past a differing row at the
		// page's end (see whichRow).
		a, err := serving.rows(ctx, table, offset, page+1)
		if errors.Is(err, errModelMoved) {
			// The digests differed all the same; the rows can only be
			// compared while the model holds still.
			return "    rows not compared: " + errModelMoved.Error() + " (run kam verify again while ingest pauses)\n", nil
		}
		if err != nil {
			return "", err
		}
		b, err := projections.TableRows(ctx, rebuilt.Reader(), table, offset, page+1)
		if err != nil {
			return "", err
		}
		keys, err := projections.KeyColumns(ctx, rebuilt.Reader(), table)
		if err != nil {
			return "", err
		}
		for i := 0; i < min(max(len(a), len(b)), page); i++ {
			var ra, rb string
			if i < len(a) {
				ra = rowString(a[i])
			}
			if i < len(b) {
				rb = rowString(b[i])
			}
			if ra != rb {
				return fmt.Sprintf("    first difference at row %d (primary-key order)%s:\n      serving: %s\n      rebuilt: %s\n",
					offset+i+1, whichRow(a, b, i, keys), orNone(ra), orNone(rb)), nil
			}
		}
		if len(a) <= page && len(b) <= page {
			return "    (rows equal as text: the values differ in type)\n", nil
		}
	}
}

// whichRow says how rows a[i] and b[i], the first that differ, differ when
// their keys tell: one row changed, or one side lacking a row the other
// has (rows line up by place, so a missing row shifts all after it).
func whichRow(a, b [][]any, i int, keys []int) string {
	parts := func(rows [][]any, i int) []any {
		if i >= len(rows) || len(keys) == 0 {
			return nil
		}
		p := make([]any, len(keys))
		for k, c := range keys {
			if c >= len(rows[i]) {
				continue
			}
			switch v := rows[i][c].(type) {
			case float64: // a running kam's rows come as JSON
				if v == float64(int64(v)) {
					p[k] = int64(v)
					continue
				}
			case []byte:
				p[k] = string(v)
				continue
			}
			p[k] = rows[i][c]
		}
		return p
	}
	// Keys compare as typed values, not as printed: two keys can print
	// alike (text holding " | ", or "NULL").
	key := func(rows [][]any, i int) string {
		if p := parts(rows, i); p != nil {
			return fmt.Sprintf("%#v", p)
		}
		return ""
	}
	ka, kb := key(a, i), key(b, i)
	switch {
	case ka == "" || kb == "":
		return ""
	case ka == kb:
		return ", the row of key " + rowString(parts(a, i)) + " holds other values"
	case ka == key(b, i+1):
		return ", the serving model lacks the rebuilt row of key " + rowString(parts(b, i))
	case kb == key(a, i+1):
		return ", the serving model has a row of key " + rowString(parts(a, i)) + " that the rebuilt one lacks"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(no such row)"
	}
	return s
}

func rowString(r []any) string {
	parts := make([]string, len(r))
	for i, v := range r {
		switch v := v.(type) {
		case nil:
			parts[i] = "NULL"
		case []byte:
			parts[i] = "x'" + hex.EncodeToString(v) + "'"
		case float64:
			// JSON numbers arrive as floats; integers print as integers.
			if v == float64(int64(v)) {
				parts[i] = fmt.Sprint(int64(v))
			} else {
				parts[i] = fmt.Sprint(v)
			}
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, " | ")
}

// verifyChains recomputes every account's hash chain (and the clock
// ticks') from the stream, up to the read model's applied sequence, and
// compares it with the read model's (or with a list filed earlier). Chains
// are told apart by their subject token: two chains can carry one label
// (an account named "kam.clock.tick" and the ticks' chain).
func (m *Main) verifyChains(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, serving servingModel, against string) error {
	// Against the read model: up to what it has applied. Against a filed
	// list: the whole log as it stands, each chain compared at the length
	// filed, so that a log that has grown since is told from one that was
	// changed.
	upTo, source := serving.applied, "the read model"
	var want filedChains
	var filedAt map[string]int64
	if against != "" {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		upTo, source = info.State.LastSeq, against
		if want, err = readFiledChains(against); err != nil {
			return err
		}
		if err := want.check(stream.CachedInfo().Config.Name, upTo); err != nil {
			return fmt.Errorf("%s: %w", against, err)
		}
		filedAt = map[string]int64{}
		for token, c := range want.chains {
			filedAt[token] = c.Length
		}
	}
	if upTo == 0 {
		return fmt.Errorf("nothing to chain: the log (or the read model) is empty")
	}
	if against == "" {
		var err error
		if want.chains, err = servingChains(ctx, serving); errors.Is(err, errModelMoved) {
			// Nothing was compared: not a difference, which exit 1 says.
			return &exitError{code: 3, msg: "kam verify --chain: " + errModelMoved.Error() + " while its chains were read; nothing was compared: run kam verify again, or while ingest pauses"}
		} else if err != nil {
			return err
		}
	}
	name := stream.CachedInfo().Config.Name
	got, err := recomputeChains(ctx, js, name, upTo, filedAt)
	if err != nil {
		return err
	}
	tokens := make([]string, 0, len(got))
	for t := range got {
		tokens = append(tokens, t)
	}
	for t := range want.chains {
		if _, ok := got[t]; !ok {
			tokens = append(tokens, t)
		}
	}
	sort.Strings(tokens)
	// Standard output is the list of the chains as the log holds them, to
	// file as it is; what differs from the list compared goes to standard
	// error, so that no label (an account may be named "DIFFERS") can make
	// a line of the list read as a remark.
	fmt.Fprintf(m.Stdout, "%s stream %s up to sequence %d\n", chainsHeader, name, upTo)
	bad, grew := 0, 0
	for _, t := range tokens {
		g, w := got[t], want.chains[t]
		if g == nil {
			g = &recomputedChain{}
		} else {
			line := fmt.Sprintf("%s %d %s", listField(t), g.Length, g.Head)
			if g.label != "" && g.label != t {
				line += "  " + listLabel(g.label)
			}
			fmt.Fprintln(m.Stdout, line)
		}
		switch {
		case g.Length == w.Length && g.Head == w.Head:
		case against != "" && w.Length > 0 && g.Length > w.Length && g.headAt == w.Head && g.nextSeq > want.upTo:
			grew++
			fmt.Fprintf(m.Stderr, "%s grew from %d links: its first %d end in the head filed, the others are after sequence %d\n", t, w.Length, w.Length, want.upTo)
		case against != "" && w.Length == 0 && g.firstSeq > want.upTo:
			grew++
			fmt.Fprintf(m.Stderr, "%s is new since the list was filed (at sequence %d)\n", t, want.upTo)
		default:
			bad++
			fmt.Fprintf(m.Stderr, "%s DIFFERS from %s: %d links %s, the log's %d %s\n", t, source, w.Length, orNone(w.Head), g.Length, orNone(g.Head))
		}
	}
	if bad > 0 {
		why := ""
		if against == "" {
			why = serving.otherRules()
		}
		return &exitError{code: 1, msg: fmt.Sprintf("kam verify --chain: %d of %d chains differ from %s%s", bad, len(tokens), source, why)}
	}
	if grew > 0 {
		fmt.Fprintf(m.Stderr, "%d chains up to sequence %d equal %s, %d of them grown or new since\n", len(tokens), upTo, source, grew)
		return nil
	}
	fmt.Fprintf(m.Stderr, "%d chains up to sequence %d equal %s\n", len(tokens), upTo, source)
	return nil
}

// chainsHeader begins a list of chains: the version of its chains (v3,
// rules 5: each message hashed with its sequence and subject, every message
// in one chain), so that a list filed by a kam whose chains were made
// otherwise is not read as a changed log.
const chainsHeader = "# kam chains v3:"

// olderHeaders are the headers of lists of chains made otherwise, with why.
var olderHeaders = map[string]string{
	"# kam chains v2:": "it was filed by a kam of rules 4, whose chains left out messages on an account's subject without a type; " +
		"check it with that kam, then file a new list with this one",
}

// listField is a token as a list writes it: as it is when it is printable
// and holds no space, else quoted as a Go string (any NATS client can
// publish under a token that holds a vertical tab or a no-break space), so
// that it stays the line's first field.
func listField(s string) string { return listText(s, false) }

// listLabel is a label as a list writes it after the head: ASCII spaces
// may stand in it (account ids hold them); anything else that is not
// printable, a newline above all, has it quoted, so that it adds no line.
func listLabel(s string) string { return listText(s, true) }

func listText(s string, spaces bool) string {
	odd := func(r rune) bool {
		return !unicode.IsPrint(r) && !(spaces && r == ' ') || !spaces && unicode.IsSpace(r)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, odd) >= 0 || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	return s
}

// listToken reads the token that begins a list's line (quoted or not) and
// returns it with the rest of the line.
func listToken(line string) (token, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		q, err := strconv.QuotedPrefix(line)
		if err != nil {
			return "", "", fmt.Errorf("token: %v", err)
		}
		token, err = strconv.Unquote(q)
		return token, line[len(q):], err
	}
	token, rest, _ = strings.Cut(line, " ")
	return token, rest, nil
}

// recomputedChain is a chain recomputed from the stream.
type recomputedChain struct {
	projections.Chain
	label    string // the account id, or what the token is
	firstSeq uint64 // of its first message
	headAt   string // its head after the length asked for, if it has it
	nextSeq  uint64 // the sequence of the link after that length
}

// recomputeChains reads every message up to upTo and chains them by
// subject token (the clock ticks under theirs), keeping each chain's head
// after the length at gives for its token.
func recomputeChains(ctx context.Context, js jetstream.JetStream, stream string, upTo uint64, at map[string]int64) (map[string]*recomputedChain, error) {
	sub, err := natsstore.Subscribe(ctx, js, stream, 1)
	if err != nil {
		return nil, err
	}
	defer sub.Stop()
	heads := map[string]*[32]byte{}
	out := map[string]*recomputedChain{}
	for {
		st, _, err := sub.Next()
		if err != nil {
			return nil, err
		}
		if token, label, ok := projections.ChainOf(st.Subject); ok {
			h, c := heads[token], out[token]
			if h == nil {
				h, c = new([32]byte), &recomputedChain{label: label, firstSeq: st.Seq}
				heads[token], out[token] = h, c
			}
			*h = projections.ChainLink(*h, projections.MessageDigest(st))
			c.Length++
			c.LastSeq = st.Seq
			c.Head = hex.EncodeToString(h[:])
			if n, ok := at[token]; ok && n == c.Length {
				c.headAt = c.Head
			} else if ok && n+1 == c.Length {
				c.nextSeq = st.Seq
			}
		}
		if st.Seq >= upTo {
			return out, nil
		}
	}
}

func servingChains(ctx context.Context, serving servingModel) (map[string]projections.Chain, error) {
	out := map[string]projections.Chain{}
	for offset := 0; ; offset += 1000 {
		rows, err := serving.rows(ctx, "chains", offset, 1000)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			// token, account, length, head, last_seq
			if len(r) != 5 {
				return nil, fmt.Errorf("chains: a row of %d columns", len(r))
			}
			out[fmt.Sprint(r[0])] = projections.Chain{Length: toInt(r[2]), Head: fmt.Sprint(r[3]), LastSeq: uint64(toInt(r[4]))}
		}
		if len(rows) < 1000 {
			return out, nil
		}
	}
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

// filedChains is a list kam verify --chain printed: its header, then a
// line a chain, TOKEN LENGTH HEAD, the label and any remark after them.
type filedChains struct {
	stream string
	upTo   uint64 // the sequence the list was made up to
	chains map[string]projections.Chain
}

func readFiledChains(path string) (filedChains, error) {
	f, err := os.Open(path)
	if err != nil {
		return filedChains{}, err
	}
	defer f.Close()
	return parseChains(f)
}

func parseChains(r io.Reader) (filedChains, error) {
	out := filedChains{chains: map[string]projections.Chain{}}
	sc := bufio.NewScanner(r)
	n, header := 0, false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !header {
			for older, why := range olderHeaders {
				if strings.HasPrefix(line, older) {
					return filedChains{}, fmt.Errorf("line %d: %s: its chains cannot be compared with these", n, why)
				}
			}
			var v int
			if _, err := fmt.Sscanf(line, "# kam chains v%d:", &v); err == nil && line[:len(chainsHeader)] != chainsHeader && v > 3 {
				return filedChains{}, fmt.Errorf("line %d: the list was filed by a newer kam (chains v%d; this kam makes v3): check it with that kam", n, v)
			}
			rest, ok := strings.CutPrefix(line, chainsHeader)
			if !ok {
				return filedChains{}, fmt.Errorf("line %d: the list does not begin with the %q header: it was filed by a kam before rules 4, "+
					"whose links hashed each message alone, or is no list of kam verify --chain; file a new list", n, chainsHeader)
			}
			f := strings.Fields(rest)
			if len(f) != 6 || f[0] != "stream" || f[2] != "up" || f[3] != "to" || f[4] != "sequence" {
				return filedChains{}, fmt.Errorf("line %d: want the header %q", n, chainsHeader+" stream NAME up to sequence N")
			}
			return parseChainLines(sc, n, out, f[1], f[5])
		}
	}
	if err := sc.Err(); err != nil {
		return filedChains{}, err
	}
	return filedChains{}, fmt.Errorf("the list is empty: file it with kam verify --chain")
}

// parseChainLines reads the lines after a list's header: TOKEN LENGTH HEAD,
// then the label, if any.
func parseChainLines(sc *bufio.Scanner, n int, out filedChains, stream, seq string) (filedChains, error) {
	out.stream = stream
	if _, err := fmt.Sscan(seq, &out.upTo); err != nil {
		return filedChains{}, fmt.Errorf("line %d: the header's sequence: %v", n, err)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		// Fields are split at ASCII spaces only: a token is quoted when
		// it holds any other space (see listField).
		token, rest, err := listToken(line)
		if err != nil {
			return filedChains{}, fmt.Errorf("line %d: %v", n, err)
		}
		var f []string
		for _, p := range strings.Split(rest, " ") {
			if p != "" {
				f = append(f, p)
			}
		}
		if token == "" || len(f) < 2 {
			return filedChains{}, fmt.Errorf("line %d: want TOKEN LENGTH HEAD", n)
		}
		var length int64
		if _, err := fmt.Sscan(f[0], &length); err != nil {
			return filedChains{}, fmt.Errorf("line %d: length: %v", n, err)
		}
		if _, dup := out.chains[token]; dup {
			return filedChains{}, fmt.Errorf("line %d: chain %s a second time", n, listField(token))
		}
		out.chains[token] = projections.Chain{Length: length, Head: f[1]}
	}
	return out, sc.Err()
}

// check refuses a list that is not of stream, or of a sequence the stream
// does not hold (last: its last sequence).
func (l filedChains) check(stream string, last uint64) error {
	switch {
	case l.stream != stream:
		return fmt.Errorf("the list is of stream %s, not %s", l.stream, stream)
	case l.upTo == 0:
		return fmt.Errorf("the list goes up to sequence 0: it holds no chain to compare")
	case l.upTo > last:
		return fmt.Errorf("the list goes up to sequence %d, past the stream's last (%d): the log lost messages, or the list is of another log", l.upTo, last)
	}
	return nil
}
