package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"kam/auth"
)

func init() {
	register(command{name: "token", usage: "make an API token: kam token new NAME --scopes publish,read", run: (*Main).token})
}

// token makes a fresh API token. It prints the token (shown only this once:
// the tokens file keeps its hash) and the line for the tokens file, which
// --tokens FILE appends to that file itself.
func (m *Main) token(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "new" {
		return errors.New("usage: kam token new NAME --scopes SCOPE[,SCOPE...] [--tokens FILE]")
	}
	fs := m.flagSet("token new")
	scopes := fs.String("scopes", "", "comma-separated scopes: "+strings.Join(auth.Scopes, ", ")+" (admin holds all)")
	file := fs.String("tokens", "", "append the token's line to this tokens file (created if missing; left at mode 0600)")
	// The name comes first (kam token new NAME --scopes ...); flags may
	// also come before it.
	rest := args[1:]
	var name string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := m.parse(fs, rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: usage: kam token new NAME --scopes SCOPES", fs.Args())
	}
	if name == "" {
		return errors.New("usage: kam token new NAME --scopes SCOPE[,SCOPE...]: the name is missing")
	}
	if *scopes == "" {
		return fmt.Errorf("--scopes is missing: give one or more of %s", strings.Join(auth.Scopes, ", "))
	}
	sc, err := auth.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("--scopes: %w", err)
	}
	tok, t, err := auth.New(name, sc)
	if err != nil {
		return err
	}
	if *file != "" {
		if err := appendToken(*file, t); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "# the token of %s (shown this once; kam keeps only its hash):\n%s\n", name, tok)
	if *file != "" {
		fmt.Fprintf(m.Stdout, "# its line, appended to %s:\n%s\n", *file, t.Line())
	} else {
		fmt.Fprintf(m.Stdout, "# its line for the tokens file (kam serve --tokens FILE):\n%s\n", t.Line())
	}
	return nil
}

// appendToken adds t's line to a tokens file, refusing a name the file
// already has, and leaves the file at mode 0600. A running kam reads the
// file at start: restart it.
func appendToken(path string, t auth.Token) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	sep := ""
	if len(b) > 0 && b[len(b)-1] != '\n' {
		sep = "\n"
	}
	if len(b) > 0 {
		// The file as it will be, so that line numbers are the file's.
		if _, err := auth.Parse(strings.NewReader(string(b) + sep + t.Line() + "\n")); err != nil {
			return fmt.Errorf("tokens file %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// The mode applies to a new file only: an existing one loses what
	// others may do with it before the line goes in. Its group keeps its
	// bits (a file root:kam 0640 is how a service reads it).
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if mode := st.Mode().Perm(); mode&0o007 != 0 {
		if err := f.Chmod(mode &^ 0o007); err != nil {
			f.Close()
			return fmt.Errorf("tokens file %s: take away others' access (mode %04o): %w", path, mode, err)
		}
	}
	if _, err := fmt.Fprintf(f, "%s%s\n", sep, t.Line()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
