package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newToken runs `kam token new` and returns the token it printed.
func newToken(t *testing.T, file, name, scopes string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	if code := m.Run(context.Background(), []string{"token", "new", name, "--scopes", scopes, "--tokens", file}); code != 0 {
		t.Fatalf("kam token new %s: exit %d: %s", name, code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "kam_") || !strings.HasPrefix(lines[3], name+" "+scopes+" ") {
		t.Fatalf("kam token new printed %q, want a comment, the token, a comment, its line", out.String())
	}
	return lines[1]
}

// callAs sends a request with a bearer token and returns the status, the
// answer's headers and body.
func (k *kam) callAs(token, method, path, body string) (int, http.Header, string) {
	k.t.Helper()
	req, err := http.NewRequest(method, k.url(path), strings.NewReader(body))
	if err != nil {
		k.t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestTokensEndToEnd: tokens made by kam token new, checked by kam serve;
// the publisher's name is the actor of what it appends; a token over its
// rate limit gets 429 with Retry-After; kam publish sends its token.
func TestTokensEndToEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	erp := newToken(t, file, "erp", "publish")
	analyst := newToken(t, file, "analyst", "read,audit")
	ops := newToken(t, file, "ops", "admin")
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("tokens file: %v mode %v, want 0600", err, st.Mode().Perm())
	}
	var errOut bytes.Buffer
	if code := (&Main{Stdout: io.Discard, Stderr: &errOut}).Run(context.Background(),
		[]string{"token", "new", "erp", "--scopes", "read", "--tokens", file}); code == 0 || !strings.Contains(errOut.String(), `line 4: name "erp" is already on line 1`) {
		t.Errorf("a second token named erp: exit %d %q, want a refusal naming the name", code, errOut.String())
	}

	k := startKam(t, t.TempDir(), "--no-ticks", "--tokens", file, "--rate-limit", "1", "--rate-burst", "3", "--http", "0.0.0.0:0")
	k.addrs.HTTP = strings.Replace(k.addrs.HTTP, "0.0.0.0", "127.0.0.1", 1)
	ev := `{"id":"t1","source":"erp","type":"order.placed","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{"order_id":"1","amount":"10.00"}}`

	steps := []struct {
		name, token, method, path, body string
		code                            int
		contains                        string
	}{
		{"no token", "", "POST", "/v1/events", ev, 401, `"code":"unauthorized"`},
		{"a made-up token", "kam_nope", "POST", "/v1/events", ev, 401, `"code":"unauthorized"`},
		{"read token cannot publish", analyst, "POST", "/v1/events", ev, 403, `lacks the scope \"publish\"`},
		{"publish", erp, "POST", "/v1/events", ev, 201, `"seq":1`},
		{"publish token cannot read", erp, "GET", "/v1/events?account=ACME", "", 403, `"code":"forbidden"`},
		{"read", analyst, "GET", "/v1/events?account=ACME", "", 200, `"actor":"erp"`},
		{"admin reads", ops, "GET", "/v1/status", "", 200, `"last_seq":1`},
		{"healthz without token", "", "GET", "/healthz", "", 200, `"ok"`},
		{"readyz without token", "", "GET", "/readyz", "", 200, `"ready"`},
		{"metrics need read", "", "GET", "/metrics", "", 401, `"code":"unauthorized"`},
		{"metrics", analyst, "GET", "/metrics", "", 200, `kam_events_appended_total{type="order.placed"} 1`},
	}
	for _, s := range steps {
		code, _, body := k.callAs(s.token, s.method, s.path, s.body)
		if code != s.code || !strings.Contains(body, s.contains) {
			t.Errorf("%s: got %d %s, want %d containing %s", s.name, code, body, s.code, s.contains)
		}
	}
	// analyst has made 3 requests (burst 3, 1/s): the next ones are limited.
	var limited bool
	for range 3 {
		code, hdr, body := k.callAs(analyst, "GET", "/v1/status", "")
		if code == http.StatusTooManyRequests {
			limited = true
			if hdr.Get("Retry-After") == "" || !strings.Contains(body, `"code":"rate_limited"`) {
				t.Errorf("429 without Retry-After or code: %v %s", hdr, body)
			}
			break
		}
	}
	if !limited {
		t.Error("analyst over 1 request/s with burst 3: got no 429")
	}

	// kam publish sends its --token.
	nd := filepath.Join(t.TempDir(), "e.ndjson")
	if err := os.WriteFile(nd, []byte(strings.Replace(ev, `"t1"`, `"t2"`, 1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if code := (&Main{Stdout: &out, Stderr: &out}).Run(context.Background(),
		[]string{"publish", "--url", "http://" + k.addrs.HTTP, "--token", ops, nd}); code != 0 || !strings.Contains(out.String(), "appended 1") {
		t.Errorf("kam publish --token: exit %d %q", code, out.String())
	}
	out = syncBuffer{}
	if code := (&Main{Stdout: &out, Stderr: &out}).Run(context.Background(),
		[]string{"publish", "--url", "http://" + k.addrs.HTTP, nd}); code == 0 || !strings.Contains(out.String(), "401") {
		t.Errorf("kam publish without a token: exit %d %q, want a failure naming 401", code, out.String())
	}
}

func TestServeRefusesOpenNonLoopback(t *testing.T) {
	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out}
	code := m.Run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--http", "0.0.0.0:0", "--nats-listen", "127.0.0.1:-1"})
	if code == 0 || !strings.Contains(out.String(), "not a loopback address and no API tokens") {
		t.Errorf("non-loopback without tokens: exit %d %q, want a refusal", code, out.String())
	}
	empty := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(empty, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = syncBuffer{}
	code = (&Main{Stdout: &out, Stderr: &out}).Run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:-1", "--tokens", empty})
	if code == 0 || !strings.Contains(out.String(), "holds no token") {
		t.Errorf("an empty tokens file: exit %d %q, want a refusal", code, out.String())
	}
}

// TestTokenFileMode: kam token new leaves a tokens file it writes to at mode
// 0600, an existing one too.
func TestTokenFileMode(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("# kam's tokens\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	newToken(t, file, "erp", "publish")
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("tokens file 0644: mode %v after a token, want 0640 (others' access taken away, the group's kept)", st.Mode().Perm())
	}
	// A file for a service's group keeps its mode.
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	newToken(t, file, "crm", "publish")
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("tokens file 0640: %v after a token (%v), want it kept", st.Mode().Perm(), err)
	}
	// A new file is the owner's only.
	fresh := filepath.Join(t.TempDir(), "new-tokens")
	newToken(t, fresh, "erp", "publish")
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a new tokens file: %v (%v), want 0600", st.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(file)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "erp publish ") {
		t.Errorf("tokens file: got %q, want the comment and erp's line", b)
	}
}
