// Command consume reads a kam stream from the start to a sequence through an
// ordered consumer and applies nothing: the raw consume rate that
// bench/project compares kam replay with, in a process of its own as
// kam replay is.
//
//	go run ./bench/consume -nats-url URL -to SEQ [-decode]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
)

func main() {
	url := flag.String("nats-url", nats.DefaultURL, "NATS URL")
	stream := flag.String("stream", "KAM", "stream")
	to := flag.Uint64("to", 0, "last sequence to read")
	decode := flag.Bool("decode", false, "also decode and validate each event")
	flag.Parse()
	nc, err := nats.Connect(*url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := natsstore.Subscribe(context.Background(), js, *stream, 1)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	var n uint64
	for {
		st, _, err := sub.Next()
		if err != nil {
			log.Fatal(err)
		}
		n++
		if *decode {
			e, err := events.Decode(st.Data, false)
			if err == nil {
				_, err = events.Validate(e, events.DefaultRules)
			}
			if err != nil {
				log.Fatalf("seq %d: %v", st.Seq, err)
			}
		}
		if st.Seq >= *to {
			break
		}
	}
	fmt.Printf("%d %f\n", n, time.Since(start).Seconds())
}
