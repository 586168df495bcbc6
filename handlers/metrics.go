package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kam/events"
)

// routeEventsPost is the pattern of the ingest route, whose refused events
// the metrics count by type and reason.
const routeEventsPost = "POST /v1/events"

// Metrics are kam's Prometheus metrics. Make them with NewMetrics, wrap the
// event log with InstrumentLog, pass them to NewGuard (HTTP latencies, refused
// events), and call WatchProjector once the read model runs.
type Metrics struct {
	reg        *prometheus.Registry
	now        func() time.Time
	httpDur    *prometheus.HistogramVec
	appended   *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	refused    *prometheus.CounterVec
}

// NewMetrics registers kam's metrics, and the Go runtime's and the
// process's, in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		now: time.Now,
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kam_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "code"}),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kam_events_appended_total",
			Help: "Events the API appended to the stream (new ones, not duplicates), by type.",
		}, []string{"type"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kam_events_duplicates_total",
			Help: "Events the API was sent again (same id): stored once, answered with their first sequence, by type.",
		}, []string{"type"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kam_events_refused_total",
			Help: "Events the API read and did not append, by type and reason (the error code; " +
				"\"batch\": valid, but refused with an invalid event of its batch).",
		}, []string{"type", "reason"}),
	}
	m.reg.MustRegister(m.httpDur, m.appended, m.duplicates, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics live (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// eventType bounds the type label to the known types.
func eventType(t string) string {
	if events.KnownType(t) {
		return t
	}
	return "unknown"
}

// InstrumentLog counts what is appended through l, by type.
func (m *Metrics) InstrumentLog(l EventLog) EventLog { return &countingLog{EventLog: l, m: m} }

type countingLog struct {
	EventLog
	m *Metrics
}

func (c *countingLog) count(e *events.Event, r events.AppendResult) {
	if r.Duplicate {
		c.m.duplicates.WithLabelValues(eventType(e.Type)).Inc()
	} else {
		c.m.appended.WithLabelValues(eventType(e.Type)).Inc()
	}
}

func (c *countingLog) Append(ctx context.Context, evs []*events.Event, opts events.AppendOptions) ([]events.AppendResult, error) {
	res, err := c.EventLog.Append(ctx, evs, opts)
	if err == nil && len(res) == len(evs) {
		for i, e := range evs {
			c.count(e, res[i])
		}
	}
	return res, err
}

func (c *countingLog) AppendEach(ctx context.Context, evs []*events.Event) ([]events.AppendResult, []error) {
	res, errs := c.EventLog.AppendEach(ctx, evs)
	for i, e := range evs {
		if i < len(errs) && errs[i] == nil && i < len(res) {
			c.count(e, res[i])
		}
	}
	return res, errs
}

// instrument times a route and, for the ingest route, counts refused events.
func (m *Metrics) instrument(pattern string, next http.Handler) http.Handler {
	ingest := pattern == routeEventsPost
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		rec := &recorder{ResponseWriter: w, capture: ingest}
		var reqBody *bytes.Buffer
		if ingest && r.Body != nil {
			reqBody = &bytes.Buffer{}
			r.Body = &teeBody{ReadCloser: r.Body, buf: reqBody}
		}
		next.ServeHTTP(rec, r)
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		m.httpDur.WithLabelValues(pattern, strconv.Itoa(code)).Observe(m.now().Sub(start).Seconds())
		if ingest && reqBody != nil && reqBody.Len() > 0 && code != http.StatusCreated && code >= 200 {
			m.countRefused(reqBody.Bytes(), code, rec.body.Bytes())
		}
	})
}

// countRefused counts the refused events of an ingest request from its body
// and its answer: per event for a 207, the events an invalid batch names as
// "invalid" and the others as "batch", all of them with the error's code
// otherwise.
func (m *Metrics) countRefused(req []byte, status int, resp []byte) {
	types := requestTypes(req)
	if len(types) == 0 {
		types = []string{"unknown"}
	}
	if status == http.StatusMultiStatus {
		var out struct {
			Results []struct {
				Index int `json:"index"`
				Error *struct {
					Code string `json:"code"`
				} `json:"error"`
			} `json:"results"`
		}
		if json.Unmarshal(resp, &out) != nil {
			return
		}
		for _, r := range out.Results {
			if r.Error != nil && r.Index >= 0 && r.Index < len(types) {
				m.refused.WithLabelValues(types[r.Index], r.Error.Code).Inc()
			}
		}
		return
	}
	var out struct {
		Error struct {
			Code    string              `json:"code"`
			Details []events.FieldError `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(resp, &out) != nil || out.Error.Code == "" {
		return
	}
	reasons := make([]string, len(types))
	for i := range reasons {
		reasons[i] = out.Error.Code
	}
	if out.Error.Code == events.EInvalid && len(out.Error.Details) > 0 && len(types) > 1 {
		for i := range reasons {
			reasons[i] = "batch"
		}
		for _, d := range out.Error.Details {
			if d.Index >= 0 && d.Index < len(reasons) {
				reasons[d.Index] = events.EInvalid
			}
		}
	}
	for i, t := range types {
		m.refused.WithLabelValues(t, reasons[i]).Inc()
	}
}

// requestTypes reads the type of each event of an ingest body (one object or
// an array); nil when the body is not JSON.
func requestTypes(body []byte) []string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	type typed struct {
		Type string `json:"type"`
	}
	var list []typed
	switch body[0] {
	case '{':
		var one typed
		if json.Unmarshal(body, &one) != nil {
			return nil
		}
		list = []typed{one}
	case '[':
		if json.Unmarshal(body, &list) != nil {
			return nil
		}
	default:
		return nil
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = eventType(e.Type)
	}
	return out
}

// maxCapture bounds how much of an error answer is kept for counting.
const maxCapture = 8 << 20

// recorder keeps the status of an answer and, when asked, the body of an
// answer that is not a 201.
type recorder struct {
	http.ResponseWriter
	status  int
	capture bool
	body    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.capture && r.status != http.StatusCreated && r.body.Len()+len(b) <= maxCapture {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// Flush passes a flush on, for handlers that stream.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// teeBody keeps a copy of what the handler reads of a request body.
type teeBody struct {
	io.ReadCloser
	buf *bytes.Buffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.buf.Write(p[:n])
	return n, err
}

// Lag is how far the read model is behind the stream.
type Lag struct {
	LastSeq    uint64  // the stream's last sequence
	AppliedSeq uint64  // the read model's applied sequence
	Messages   uint64  // LastSeq - AppliedSeq
	Seconds    float64 // age of the oldest message not applied yet; 0 when caught up
}

// ProjectorLag compares the read model with the stream. The seconds are
// those since the stream stored the first message the projector has not
// applied: 0 when caught up, growing while it falls behind.
func ProjectorLag(ctx context.Context, log EventLog, reads ReadModel, now time.Time) (Lag, error) {
	st, err := log.Status(ctx)
	if err != nil {
		return Lag{}, err
	}
	return lagAt(ctx, log, st.LastSeq, reads.Status().AppliedSeq, now)
}

func lagAt(ctx context.Context, log EventLog, last, applied uint64, now time.Time) (Lag, error) {
	lag := Lag{LastSeq: last, AppliedSeq: applied}
	if last <= applied {
		return lag, nil
	}
	lag.Messages = last - applied
	next, err := log.ReadSeq(ctx, applied+1)
	if err != nil {
		return lag, err
	}
	lag.Seconds = max(0, now.Sub(next.Stored).Seconds())
	return lag, nil
}

// WatchProjector adds the gauges read at each scrape: NATS connected, the
// stream's last sequence, and, when reads is not nil, the projector's
// applied sequence, lag, batch and review timings and rejected events.
func (m *Metrics) WatchProjector(log EventLog, reads ReadModel, connected func() bool, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m.reg.MustRegister(&projectorCollector{m: m, log: log, reads: reads, connected: connected, logger: logger})
}

var (
	descConnected     = prometheus.NewDesc("kam_nats_connected", "1 when kam's NATS connection is up.", nil, nil)
	descStreamLast    = prometheus.NewDesc("kam_stream_last_seq", "The stream's last sequence.", nil, nil)
	descStreamMsgs    = prometheus.NewDesc("kam_stream_messages", "Messages in the stream.", nil, nil)
	descStreamBytes   = prometheus.NewDesc("kam_stream_bytes", "Bytes in the stream.", nil, nil)
	descStreamUp      = prometheus.NewDesc("kam_stream_up", "1 when the stream answered this scrape's state request.", nil, nil)
	descApplied       = prometheus.NewDesc("kam_projector_applied_seq", "The last stream sequence the read model applied (or set aside).", nil, nil)
	descLagMsgs       = prometheus.NewDesc("kam_projector_lag_messages", "Stream messages the read model has not applied yet.", nil, nil)
	descLagSecs       = prometheus.NewDesc("kam_projector_lag_seconds", "Age of the oldest stream message the read model has not applied; 0 when caught up.", nil, nil)
	descEventsApplied = prometheus.NewDesc("kam_projector_events_applied_total", "Events the read model applied.", nil, nil)
	descRejected      = prometheus.NewDesc("kam_projector_rejected_events_total", "Stream messages the projector set aside as invalid (table rejected_events).", nil, nil)
	descBatchEvents   = prometheus.NewDesc("kam_projector_last_batch_events", "Events in the projector's last committed batch.", nil, nil)
	descBatchSecs     = prometheus.NewDesc("kam_projector_last_batch_seconds", "Time of the projector's last batch, from its first message to its commit.", nil, nil)
	descReviews       = prometheus.NewDesc("kam_projector_review_duration_seconds", "Day-close reviews run since start and their total time.", nil, nil)
	descCommits       = prometheus.NewDesc("kam_projector_commit_duration_seconds", "Transactions the projector committed since start and their total time.", nil, nil)
)

type projectorCollector struct {
	m         *Metrics
	log       EventLog
	reads     ReadModel
	connected func() bool
	logger    *slog.Logger
}

func (c *projectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descStreamLast, descStreamMsgs, descStreamBytes, descStreamUp,
		descApplied, descLagMsgs, descLagSecs, descEventsApplied, descRejected, descBatchEvents, descBatchSecs, descReviews, descCommits} {
		ch <- d
	}
}

func (c *projectorCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	if c.connected != nil {
		gauge(descConnected, b2f(c.connected()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := c.log.Status(ctx)
	gauge(descStreamUp, b2f(err == nil))
	if err != nil {
		c.logger.Debug("metrics: stream state", "err", err)
	} else {
		gauge(descStreamLast, float64(st.LastSeq))
		gauge(descStreamMsgs, float64(st.Messages))
		gauge(descStreamBytes, float64(st.Bytes))
	}
	if c.reads == nil {
		return
	}
	ps := c.reads.Status()
	gauge(descApplied, float64(ps.AppliedSeq))
	counter(descEventsApplied, float64(ps.Applied))
	counter(descRejected, float64(ps.Rejected))
	gauge(descBatchEvents, float64(ps.BatchEvents))
	gauge(descBatchSecs, ps.BatchSeconds)
	ch <- prometheus.MustNewConstSummary(descReviews, uint64(ps.Reviews), ps.ReviewSeconds, nil)
	ch <- prometheus.MustNewConstSummary(descCommits, uint64(ps.Commits), ps.CommitSeconds, nil)
	if err == nil {
		lag, err := lagAt(ctx, c.log, st.LastSeq, ps.AppliedSeq, c.m.now())
		if err != nil {
			c.logger.Debug("metrics: projector lag", "err", err)
			return
		}
		gauge(descLagMsgs, float64(lag.Messages))
		gauge(descLagSecs, lag.Seconds)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
