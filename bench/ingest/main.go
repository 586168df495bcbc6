// Command ingest measures kam's append rates against the raw JetStream
// publish rate of the same embedded server and payload, in one run:
//
//	go run ./bench/ingest [-events 200000]
//
// raw:   a bare async-publish loop with Nats-Msg-Id, at most 4096 acks pending;
// store: natsstore.Store.AppendEach (the same, through kam's store);
// http:  POST /v1/events with batches of 500 (validated; -query ?atomic=true
//
//	for JetStream atomic batches),
//
//	from 4 concurrent clients over loopback TCP.
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
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
	"kam/handlers"
	"kam/internal/synth"
)

func main() {
	n := flag.Int("events", 200000, "events per phase")
	batch := flag.Int("batch", 500, "events per HTTP request")
	clients := flag.Int("clients", 4, "concurrent HTTP clients")
	query := flag.String("query", "", "query string of the POSTs, e.g. ?partial=true")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the HTTP phase")
	flag.Parse()
	dir, err := os.MkdirTemp("", "kam-bench-ingest")
	check(err)
	defer os.RemoveAll(dir)

	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir}, nil)
	check(err)
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	check(err)
	defer nc.Close()
	ctx := context.Background()
	store, err := natsstore.Open(ctx, nc, natsstore.Config{}, nil)
	check(err)

	mk := func(seed uint64) []*events.Event {
		return synth.Events(synth.Options{Events: *n, Accounts: 20000, Days: 365, Seed: seed, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	size := 0
	for _, e := range mk(99)[:1000] {
		b, _ := e.MarshalJSON()
		size += len(b)
	}
	fmt.Printf("machine: %d cores (GOMAXPROCS %d); %d events per phase, %d bytes per event on average\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *n, size/1000)

	// raw
	evs := mk(1)
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		msgs[i], err = natsstore.Message(e)
		check(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	check(err)
	start := time.Now()
	for _, m := range msgs {
		_, err := js.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second))
		check(err)
	}
	<-js.PublishAsyncComplete()
	raw := rate(*n, start)

	// store
	evs = mk(2)
	// One call, as the raw loop is one loop: both keep at most 4096 acks
	// pending (the store's PublishAsyncMaxPending), so the pipeline is the same.
	start = time.Now()
	_, errs := store.AppendEach(ctx, evs)
	for _, err := range errs {
		check(err)
	}
	st := rate(*n, start)

	// http
	evs = mk(3)
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
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				resp, err := client.Post(url, "application/json", bytes.NewReader(b))
				check(err)
				if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusMultiStatus {
					var body bytes.Buffer
					body.ReadFrom(resp.Body)
					log.Fatalf("POST: %s %s", resp.Status, body.String())
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	web := rate(*n, start)

	info, err := store.Status(ctx)
	check(err)
	if info.Messages != uint64(3**n) {
		log.Fatalf("stream holds %d messages, want %d", info.Messages, 3**n)
	}
	fmt.Printf("%-44s %10s %8s\n", "path", "events/s", "vs raw")
	fmt.Printf("%-44s %10.0f %8s\n", "raw JetStream async publish (msg id)", raw, "100%")
	fmt.Printf("%-44s %10.0f %7.0f%%\n", "natsstore.AppendEach", st, 100*st/raw)
	fmt.Printf("%-44s %10.0f %7.0f%%\n", fmt.Sprintf("POST /v1/events, batches of %d, %d clients", *batch, *clients), web, 100*web/raw)
}

func rate(n int, start time.Time) float64 { return float64(n) / time.Since(start).Seconds() }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
