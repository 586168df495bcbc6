package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	code, def, _ := runCmd(t, "policy")
	if code != 0 {
		t.Fatalf("kam policy: exit %d", code)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// The printed policy is valid, with the built-in version, also with a
	// byte order mark before it.
	for name, body := range map[string]string{"default.json": def, "bom.json": "\uFEFF" + def} {
		path := write(name, body)
		code, out, errOut := runCmd(t, "policy", "--check", path)
		if want := path + ": valid, version ab1763b38ca2ea7355fad023f1cc7251b07f07fb3b99259747dd0b39f638dd7e\n"; code != 0 || out != want {
			t.Errorf("kam policy --check %s: got exit %d, %q%s, want %q", name, code, out, errOut, want)
		}
	}

	// Each problem on a line of its own, named by its path.
	bad := def
	for _, r := range [][2]string{
		{`"min_score": 60,`, ``},
		{`"cut_a": 80`, `"cut_a": 80, "cut_a": 20`},
		{`"window_days": 365`, `"Window_Days": 365`},
	} {
		if !strings.Contains(bad, r[0]) {
			t.Fatalf("kam policy prints no %s", r[0])
		}
		bad = strings.Replace(bad, r[0], r[1], 1)
	}
	path := write("bad.json", bad)
	code, out, errOut := runCmd(t, "policy", "--check", path)
	want := "kam policy: " + path + ": invalid policy:\n" +
		"  key_account.min_score: missing\n" +
		"  tiering.Window_Days: unknown key (key names are case-sensitive: want \"window_days\")\n" +
		"  tiering.cut_a: given more than once (each key once)\n" +
		"  tiering.window_days: missing\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("kam policy --check bad.json: got exit %d, %q, stderr\n%s\nwant exit 1, stderr\n%s", code, out, errOut, want)
	}
}
