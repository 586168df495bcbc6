// Command digest prints the content digest of kam read-model files, table by
// table (projections.Digest: rows in primary-key order, each value tagged
// with its type), and exits 1 when the files differ, 2 on an error. The
// cluster demo uses it to show that two kam instances built the same model.
//
//	go run ./scripts/digest A.db B.db
package main

import (
	"context"
	"fmt"
	"os"

	"kam/projections"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: digest FILE.db [FILE.db...]")
		os.Exit(2)
	}
	var first []projections.TableDigest
	differ := false
	for i, path := range os.Args[1:] {
		ds, err := digest(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "digest %s: %v\n", path, err)
			os.Exit(2)
		}
		fmt.Println(path)
		for k, d := range ds {
			mark := ""
			if i > 0 && (k >= len(first) || first[k] != d) {
				mark, differ = "  <- differs", true
			}
			fmt.Printf("  %-16s %8d rows  %s%s\n", d.Table, d.Rows, d.SHA256, mark)
		}
		if i == 0 {
			first = ds
		}
	}
	if differ {
		fmt.Println("the read models differ")
		os.Exit(1)
	}
	if len(os.Args) > 2 {
		fmt.Println("the read models are equal")
	}
}

func digest(path string) ([]projections.TableDigest, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := projections.OpenDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return projections.Digest(context.Background(), db.Reader())
}
