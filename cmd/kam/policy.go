package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"kam/events"
	"kam/projections"
)

func init() {
	register(command{name: "policy", usage: "print the built-in policy (copy it, edit it, pass it with --policy)", run: (*Main).policy})
}

func (m *Main) policy(ctx context.Context, args []string) error {
	fs := m.flagSet("policy")
	check := fs.String("check", "", "validate a policy file and print its version instead")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *check != "" {
		p, err := projections.LoadPolicy(*check)
		var e *events.Error
		if errors.As(err, &e) && len(e.Details) > 0 {
			// One problem a line: a file can have many.
			var b strings.Builder
			fmt.Fprintf(&b, "kam policy: %s: %s:", *check, e.Message)
			for _, d := range e.Details {
				fmt.Fprintf(&b, "\n  %s", d)
			}
			return &exitError{code: 1, msg: b.String()}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "%s: valid, version %s\n", *check, p.Version())
		return nil
	}
	_, err := m.Stdout.Write(projections.DefaultPolicyJSON())
	return err
}
