// Command ingest measures kam's append rates against the raw JetStream
// publish rate of the same embedded server setup and payload, in one run:
//
//	go run ./bench/ingest [-events 200000] [-rounds 3] [-query ?atomic=true]
//
// raw:   a bare async-publish loop of prepared messages with Nats-Msg-Id, at
//
//	most 4096 acks pending;
//
// store: natsstore.Store.AppendEach over the events (serializing included);
// http:  POST /v1/events with batches of 500 from 4 concurrent clients over
//
//	loopback TCP (validated, then published pipelined; -query ?atomic=true
//	for JetStream atomic batches).
//
// Every phase runs on a fresh server and store directory, so that none
// starts on a fuller stream than another; the phases take turns for
// -rounds rounds and the medians are reported.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
	"kam/handlers"
	"kam/internal/synth"
)

var (
	n          = flag.Int("events", 200000, "events per phase")
	batch      = flag.Int("batch", 500, "events per HTTP request")
	clients    = flag.Int("clients", 4, "concurrent HTTP clients")
	query      = flag.String("query", "", "query string of the POSTs, e.g. ?atomic=true")
	rounds     = flag.Int("rounds", 3, "rounds of the three phases")
	cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the HTTP phases")
)

func main() {
	flag.Parse()
	evs := synth.Events(synth.Options{Events: *n, Accounts: 20000, Days: 365, Seed: 1, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	size := 0
	for _, e := range evs[:1000] {
		b, _ := e.MarshalJSON()
		size += len(b)
	}
	fmt.Printf("machine: %d cores (GOMAXPROCS %d); %d events per phase, %d bytes per event on average, %d rounds\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *n, size/1000, *rounds)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	var raw, st, web []float64
	for r := 0; r < *rounds; r++ {
		raw = append(raw, onFreshServer(evs, rawPhase))
		st = append(st, onFreshServer(evs, storePhase))
		web = append(web, onFreshServer(evs, httpPhase))
	}
	mr, ms, mw := median(raw), median(st), median(web)
	fmt.Printf("%-48s %10s %8s   %s\n", "path (median)", "events/s", "vs raw", "rounds")
	fmt.Printf("%-48s %10.0f %8s   %.0f\n", "raw JetStream async publish (msg id)", mr, "100%", raw)
	fmt.Printf("%-48s %10.0f %7.0f%%   %.0f\n", "natsstore.AppendEach", ms, 100*ms/mr, st)
	fmt.Printf("%-48s %10.0f %7.0f%%   %.0f\n", fmt.Sprintf("POST /v1/events%s, batches of %d, %d clients", *query, *batch, *clients), mw, 100*mw/mr, web)
}

// onFreshServer runs one phase on a new embedded server and returns its rate.
func onFreshServer(evs []*events.Event, phase func(*nats.Conn, *natsstore.Store, []*events.Event) float64) float64 {
	dir, err := os.MkdirTemp("", "kam-bench-ingest")
	check(err)
	defer os.RemoveAll(dir)
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir}, nil)
	check(err)
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	check(err)
	defer nc.Close()
	store, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	check(err)
	r := phase(nc, store, evs)
	info, err := store.Status(context.Background())
	check(err)
	if info.Messages != uint64(len(evs)) {
		log.Fatalf("stream holds %d messages, want %d", info.Messages, len(evs))
	}
	return r
}

func rawPhase(nc *nats.Conn, _ *natsstore.Store, evs []*events.Event) float64 {
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		m, err := natsstore.Message(e)
		check(err)
		msgs[i] = m
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	check(err)
	start := time.Now()
	for _, m := range msgs {
		_, err := js.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second))
		check(err)
	}
	<-js.PublishAsyncComplete()
	return rate(len(evs), start)
}

func storePhase(_ *nats.Conn, store *natsstore.Store, evs []*events.Event) float64 {
	start := time.Now()
	_, errs := store.AppendEach(context.Background(), evs)
	for _, err := range errs {
		check(err)
	}
	return rate(len(evs), start)
}

func httpPhase(_ *nats.Conn, store *natsstore.Store, evs []*events.Event) float64 {
	api := &handlers.Server{Log: store, Rules: events.DefaultRules, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: api.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	var bodies [][]byte
	for i := 0; i < len(evs); i += *batch {
		b, err := json.Marshal(evs[i:min(i+*batch, len(evs))])
		check(err)
		bodies = append(bodies, b)
	}
	work := make(chan []byte, len(bodies))
	for _, b := range bodies {
		work <- b
	}
	close(work)
	url := "http://" + ln.Addr().String() + "/v1/events" + *query
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				resp, err := client.Post(url, "application/json", bytes.NewReader(b))
				check(err)
				if resp.StatusCode != http.StatusCreated {
					var body bytes.Buffer
					body.ReadFrom(resp.Body)
					log.Fatalf("POST: %s %s", resp.Status, body.String())
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return rate(len(evs), start)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func rate(n int, start time.Time) float64 { return float64(n) / time.Since(start).Seconds() }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
