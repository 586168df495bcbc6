package main

import (
	"context"
	"fmt"

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
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "%s: valid, version %s\n", *check, p.Version())
		return nil
	}
	_, err := m.Stdout.Write(projections.DefaultPolicyJSON())
	return err
}
