package handlers

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"kam/events"
	"kam/projections"
)

func TestMetricsEvents(t *testing.T) {
	log := &fakeLog{}
	met := NewMetrics()
	srv := &Server{Log: met.InstrumentLog(log), Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{Metrics: met}), Metrics: met.Handler()}
	h := srv.Handler()
	visit := `{"id":"v1","source":"t","type":"visit.logged","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{"visit_id":"v1","rep":"r"}}`
	bad := `{"id":"b1","source":"t","type":"order.placed","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{"order_id":"b1","amount":"-1"}}`
	weird := `{"id":"w1","source":"t","type":"order.cancelled","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{}}`
	steps := []struct {
		body, query string
		code        int
	}{
		{"[" + testOrder("o1") + "," + testOrder("o2") + "," + visit + "]", "", 201}, // 2 orders, 1 visit appended
		{testOrder("o1"), "", 201},                                        // a duplicate
		{"[" + testOrder("o3") + "," + bad + "]", "", 400},                // o3 refused with its batch, b1 invalid
		{"[" + testOrder("o4") + "," + weird + "]", "?partial=true", 207}, // o4 appended, the unknown type refused
		{"not json", "", 415},
	}
	for i, s := range steps {
		if a := do(t, h, "POST", "/v1/events"+s.query, "", s.body); a.code != s.code {
			t.Fatalf("step %d: got %d %v, want %d", i, a.code, a.body, s.code)
		}
	}
	log.fail = &events.Error{Code: events.EUnavailable, RetryAfter: 1, Message: "down"}
	if a := do(t, h, "POST", "/v1/events", "", "["+testOrder("o5")+","+visit+"]"); a.code != 503 || a.hdr.Get("Retry-After") != "1" {
		t.Fatalf("log down: got %d Retry-After %q, want 503 with Retry-After 1", a.code, a.hdr.Get("Retry-After"))
	}

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"appended order.placed", testutil.ToFloat64(met.appended.WithLabelValues("order.placed")), 3},
		{"appended visit.logged", testutil.ToFloat64(met.appended.WithLabelValues("visit.logged")), 1},
		{"duplicates order.placed", testutil.ToFloat64(met.duplicates.WithLabelValues("order.placed")), 1},
		{"refused order.placed batch", testutil.ToFloat64(met.refused.WithLabelValues("order.placed", "batch")), 1},
		{"refused order.placed invalid", testutil.ToFloat64(met.refused.WithLabelValues("order.placed", "invalid")), 1},
		{"refused unknown invalid", testutil.ToFloat64(met.refused.WithLabelValues("unknown", "invalid")), 1},
		{"refused unknown unsupported", testutil.ToFloat64(met.refused.WithLabelValues("unknown", "unsupported")), 1},
		{"refused order.placed unavailable", testutil.ToFloat64(met.refused.WithLabelValues("order.placed", "unavailable")), 1},
		{"refused visit.logged unavailable", testutil.ToFloat64(met.refused.WithLabelValues("visit.logged", "unavailable")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// Latencies by route pattern and status.
	if n := testutil.CollectAndCount(met.httpDur); n != 5 { // 201, 400, 207, 415, 503
		t.Errorf("latency series: got %d, want 5", n)
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`kam_http_request_duration_seconds_count{code="201",route="POST /v1/events"} 2`,
		`kam_http_request_duration_seconds_count{code="503",route="POST /v1/events"} 1`,
		`kam_events_refused_total{reason="batch",type="order.placed"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics does not hold %q", want)
		}
	}
}

func TestMetricsProjectorAndReadiness(t *testing.T) {
	log := &fakeLog{}
	for i := range 5 {
		log.add(&events.Event{ID: string(rune('a' + i)), Type: "order.placed", Subject: "X"})
	}
	stored3, _ := log.ReadSeq(context.Background(), 3)
	now := stored3.Stored.Add(30 * time.Second)
	reads := &fakeReads{applied: 2, status: projections.Status{Applied: 2, Rejected: 1, BatchEvents: 2, BatchSeconds: 0.25, Reviews: 4, ReviewSeconds: 0.5, Commits: 7, CommitSeconds: 1.5}}
	met := NewMetrics()
	met.now = func() time.Time { return now }
	connected := true
	met.WatchProjector(log, reads, func() bool { return connected }, nil)

	want := `
# HELP kam_projector_lag_messages Stream messages the read model has not applied yet.
# TYPE kam_projector_lag_messages gauge
kam_projector_lag_messages 3
# HELP kam_projector_lag_seconds Age of the oldest stream message the read model has not applied; 0 when caught up.
# TYPE kam_projector_lag_seconds gauge
kam_projector_lag_seconds 30
# HELP kam_projector_applied_seq The last stream sequence the read model applied (or set aside).
# TYPE kam_projector_applied_seq gauge
kam_projector_applied_seq 2
# HELP kam_stream_last_seq The stream's last sequence.
# TYPE kam_stream_last_seq gauge
kam_stream_last_seq 5
# HELP kam_projector_rejected_events_total Stream messages the projector set aside as invalid (table rejected_events).
# TYPE kam_projector_rejected_events_total counter
kam_projector_rejected_events_total 1
# HELP kam_projector_review_duration_seconds Day-close reviews run since start and their total time.
# TYPE kam_projector_review_duration_seconds summary
kam_projector_review_duration_seconds_sum 0.5
kam_projector_review_duration_seconds_count 4
# HELP kam_projector_commit_duration_seconds Transactions the projector committed since start and their total time.
# TYPE kam_projector_commit_duration_seconds summary
kam_projector_commit_duration_seconds_sum 1.5
kam_projector_commit_duration_seconds_count 7
# HELP kam_nats_connected 1 when kam's NATS connection is up.
# TYPE kam_nats_connected gauge
kam_nats_connected 1
`
	if err := testutil.GatherAndCompare(met.Registry(), strings.NewReader(want),
		"kam_projector_lag_messages", "kam_projector_lag_seconds", "kam_projector_applied_seq", "kam_stream_last_seq",
		"kam_projector_rejected_events_total", "kam_projector_review_duration_seconds", "kam_projector_commit_duration_seconds", "kam_nats_connected"); err != nil {
		t.Error(err)
	}

	ready := Readiness(ReadinessConfig{Connected: func() bool { return connected }, Log: log, Reads: reads, MaxLag: 10 * time.Second,
		Now: func() time.Time { return now }})
	err := ready(context.Background())
	if events.ErrorCode(err) != events.EUnavailable || !strings.Contains(err.Error(), "3 messages (30.0s) behind") {
		t.Errorf("30s behind: got %v, want unavailable naming the lag", err)
	}
	reads.mu.Lock()
	reads.applied = 5
	reads.mu.Unlock()
	if err := ready(context.Background()); err != nil {
		t.Errorf("caught up: got %v, want ready", err)
	}
	connected = false
	if err := ready(context.Background()); err == nil || !strings.Contains(err.Error(), "NATS is not connected") {
		t.Errorf("disconnected: got %v", err)
	}
	srv := &Server{Log: log, Ready: ready}
	a := do(t, srv.Handler(), "GET", "/readyz", "", "")
	if a.code != 503 || errCode(a) != "unavailable" || a.hdr.Get("Retry-After") == "" {
		t.Errorf("/readyz disconnected: got %d %v", a.code, a.body)
	}
}
