package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// runNATS starts a real NATS server (in this process, on a free loopback
// port) from a nats-server configuration file's text, with JetStream.
func runNATS(t *testing.T, conf string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "nats.conf")
	conf = fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\n%s", filepath.Join(dir, "js"), conf)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("nats config:\n%s\n%v", conf, err)
	}
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// serveFails runs kam serve with args and returns its exit code and output.
func serveFails(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := &Main{Stdout: &out, Stderr: &out}
	code := m.Run(ctx, append([]string{"serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--no-ticks"}, args...))
	return code, out.String()
}

// appendAndRead checks that a kam on a secured NATS appends and projects.
func appendAndRead(t *testing.T, k *kam) {
	t.Helper()
	code, body := k.call("POST", "/v1/events", order("s1", "ACME", "2026-01-05T10:00:00Z", "10.00"))
	if code != http.StatusCreated {
		t.Fatalf("append: got %d %v", code, body)
	}
	code, body = k.call("GET", "/v1/accounts/ACME?min_seq=1", nil)
	if code != http.StatusOK || body["revenue_total"] != "10.00" {
		t.Errorf("read back: got %d %v", code, body)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNATSUserPassword(t *testing.T) {
	s := runNATS(t, `authorization { user: kam, password: "s3cret-pw" }`)
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-url", s.ClientURL(), "--nats-user", "kam", "--nats-password", "s3cret-pw")
	appendAndRead(t, k)

	code, out := serveFails(t, "--nats-url", s.ClientURL(), "--nats-user", "kam", "--nats-password", "wrong")
	if code == 0 || !strings.Contains(strings.ToLower(out), "authorization violation") {
		t.Errorf("wrong password: exit %d %q, want a refusal naming the authorization violation", code, out)
	}
	code, out = serveFails(t, "--nats-url", s.ClientURL())
	if code == 0 || !strings.Contains(strings.ToLower(out), "authorization violation") {
		t.Errorf("no credentials: exit %d %q", code, out)
	}
}

func TestNATSMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	s := runNATS(t, fmt.Sprintf(`tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true, timeout: 2 }`,
		pki.serverCert, pki.serverKey, pki.ca))
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-url", s.ClientURL(),
		"--nats-tls-ca", pki.ca, "--nats-tls-cert", pki.clientCert, "--nats-tls-key", pki.clientKey)
	appendAndRead(t, k)

	code, out := serveFails(t, "--nats-url", s.ClientURL(), "--nats-tls-ca", pki.ca)
	if code == 0 || !strings.Contains(out, "connect to NATS") {
		t.Errorf("no client certificate: exit %d %q, want a refusal", code, out)
	}
	code, out = serveFails(t, "--nats-url", s.ClientURL(), "--nats-tls-cert", pki.clientCert, "--nats-tls-key", pki.clientKey)
	if code == 0 || !strings.Contains(out, "certificate") {
		t.Errorf("server not verified (no CA): exit %d %q, want a certificate error", code, out)
	}
}

func TestNATSNkey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s := runNATS(t, fmt.Sprintf(`authorization { users: [ { nkey: %q } ] }`, pub))
	seedFile := write(t, t.TempDir(), "kam.nk", string(seed))
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-url", s.ClientURL(), "--nats-nkey", seedFile)
	appendAndRead(t, k)

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	code, out := serveFails(t, "--nats-url", s.ClientURL(), "--nats-nkey", write(t, t.TempDir(), "other.nk", string(otherSeed)))
	if code == 0 || !strings.Contains(strings.ToLower(out), "authorization violation") {
		t.Errorf("unknown nkey: exit %d %q", code, out)
	}
}

// TestNATSCredsFile: decentralized auth (operator, account and user JWTs):
// kam connects with a user's .creds file.
func TestNATSCredsFile(t *testing.T) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "kam-test-operator"
	ojwt, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	account := func(name string, js bool) (nkeys.KeyPair, string, string) {
		akp, _ := nkeys.CreateAccount()
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(okp)
		if err != nil {
			t.Fatal(err)
		}
		return akp, apub, ajwt
	}
	_, syspub, sysjwt := account("SYS", false)
	akp, apub, ajwt := account("KAM", true)
	creds := func(akp nkeys.KeyPair) string {
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = "kam"
		ujwt, err := uc.Encode(akp)
		if err != nil {
			t.Fatal(err)
		}
		useed, _ := ukp.Seed()
		b, err := jwt.FormatUserConfig(ujwt, useed)
		if err != nil {
			t.Fatal(err)
		}
		return write(t, t.TempDir(), "kam.creds", string(b))
	}
	s := runNATS(t, fmt.Sprintf("operator: %q\nsystem_account: %q\nresolver: MEMORY\nresolver_preload: { %s: %q, %s: %q }\n",
		ojwt, syspub, syspub, sysjwt, apub, ajwt))
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-url", s.ClientURL(), "--nats-creds", creds(akp))
	appendAndRead(t, k)

	// A user of an account the operator never signed is refused.
	stranger, _ := nkeys.CreateAccount()
	code, out := serveFails(t, "--nats-url", s.ClientURL(), "--nats-creds", creds(stranger))
	if code == 0 || !strings.Contains(strings.ToLower(out), "authorization violation") {
		t.Errorf("creds of an unknown account: exit %d %q", code, out)
	}
}

// TestEmbeddedNATSConfig: the embedded server takes a nats-server
// configuration file; here it requires a password, which kam's own
// connection gives and an anonymous client lacks.
func TestEmbeddedNATSConfig(t *testing.T) {
	conf := write(t, t.TempDir(), "embedded.conf", "server_name: kam-configured\nmax_payload: 2MB\n"+
		"authorization { user: kam, password: \"emb-s3cret\" }\n")
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-config", conf, "--nats-user", "kam", "--nats-password", "emb-s3cret")
	appendAndRead(t, k)

	if nc, err := nats.Connect(k.addrs.NATS, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("anonymous client connected to the embedded server that requires a password")
	}
	nc, err := nats.Connect(k.addrs.NATS, nats.UserInfo("kam", "emb-s3cret"), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect with the configured password: %v", err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != "kam-configured" {
		t.Errorf("server name: got %q, want kam-configured (from the config file)", got)
	}
	if got := nc.MaxPayload(); got != 2<<20 {
		t.Errorf("max payload: got %d, want %d (from the config file)", got, 2<<20)
	}

	code, out := serveFails(t, "--nats-listen", "127.0.0.1:-1", "--nats-config", write(t, t.TempDir(), "bad.conf", "authorization { user: \n"))
	if code == 0 || !strings.Contains(out, "nats config") {
		t.Errorf("a broken config file: exit %d %q, want a refusal naming it", code, out)
	}
}

type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// newPKI writes a CA, a server certificate for 127.0.0.1 and localhost, and
// a client certificate, all signed by the CA.
func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kam test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return write(t, dir, cn+".pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
			write(t, dir, cn+"-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	}
	p := pki{ca: write(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))}
	p.serverCert, p.serverKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// TestNATSPasswordNotInConnectError: a password the URL parser chokes on
// (a bare %) is not shown in the error, which quoted the whole URL.
func TestNATSPasswordNotInConnectError(t *testing.T) {
	for _, pw := range []string{"pa%zzw0rd", `pa"ss\w0rd%`} {
		code, out := serveFails(t, "--nats-url", "nats://kam:"+pw+"@127.0.0.1:1")
		if code == 0 || strings.Contains(out, "zzw0rd") || strings.Contains(out, "w0rd") || !strings.Contains(out, "connect to NATS at nats://kam:xxxxx@127.0.0.1:1") {
			t.Errorf("password %q: exit %d, want a refusal without any of it:\n%s", pw, code, out)
		}
	}
}
