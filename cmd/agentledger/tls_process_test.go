package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCA makes a CA and a certificate it signed for 127.0.0.1, written as
// PEM files; it returns their paths and a pool holding the CA.
func testCA(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentledger test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return certFile, keyFile, pool
}

// startServe starts `serve` with args and returns the URL it prints, or
// fails the test.
func startServe(t *testing.T, p *proc, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(p.bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if m := regexp.MustCompile(`MCP server on (https?://[0-9.:\[\]]+)/mcp`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u, cmd
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestServeTLS(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	certFile, keyFile, pool := testCA(t)
	u, _ := startServe(t, p, "--http", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	require.True(t, strings.HasPrefix(u, "https://"), u)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	res, err := client.Get(u + "/healthz")
	require.NoError(t, err, "a client with the test CA connects")
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, uint16(tls.VersionTLS13), res.TLS.Version)

	_, err = (&http.Client{Timeout: 5 * time.Second}).Get(u + "/healthz")
	require.Error(t, err, "a client that does not trust the CA is refused")
	plain, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + strings.TrimPrefix(u, "https://") + "/healthz")
	if err == nil {
		defer plain.Body.Close()
		assert.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP to the TLS port gets no answer of the server's")
	}

	out, errOut, err := p.run("healthz", "--url", u+"/healthz")
	require.NoError(t, err, "the container's health check reaches a TLS server on loopback: %s", errOut)
	assert.Contains(t, out, `"status":"ok"`)

	_, errOut, err = p.run("serve", "--http", "127.0.0.1:0", "--tls-cert", certFile)
	require.Error(t, err)
	assert.Contains(t, errOut, "give both --tls-cert and --tls-key")
	_, errOut, err = p.run("serve", "--http", "127.0.0.1:0", "--tls-cert", keyFile, "--tls-key", keyFile)
	require.Error(t, err)
	assert.Contains(t, errOut, "--tls-cert/--tls-key")
}

// Plain HTTP on an address other than loopback starts only with
// --insecure-http, and says why.
func TestServeRefusesPlainHTTPOnAPublicAddress(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	_, errOut, err := p.run("serve", "--http", "0.0.0.0:0")
	require.Error(t, err)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, exitUsage, exit.ExitCode())
	assert.Contains(t, errOut, "refusing plain HTTP on 0.0.0.0:0")
	assert.Contains(t, errOut, "--tls-cert")
	assert.Contains(t, errOut, "--insecure-http")

	_, errOut, err = p.run("serve", "--http", "127.0.0.1:0", "--metrics-addr", "0.0.0.0:0")
	require.Error(t, err, "keyless metrics on a public address")
	assert.Contains(t, errOut, "refusing keyless, plain-HTTP metrics on 0.0.0.0:0")

	cmd := exec.Command(p.bin, "serve", "--http", "0.0.0.0:0", "--insecure-http")
	cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(pipe)
	require.True(t, sc.Scan())
	assert.Contains(t, sc.Text(), "warning: serving plain HTTP")
	assert.Contains(t, sc.Text(), "reverse proxy")
}
