package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/pkg/v3/transport"
	etcd "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/store/etcdtest"
)

// TestClusterEtcdTLS: etcd serving clients over TLS and requiring client
// certificates. A node with the store.tls files of the right CA works; a
// node whose certificate comes from another CA is refused by etcd and
// says so on /readyz instead of pretending.
func TestClusterEtcdTLS(t *testing.T) {
	t.Parallel()
	s := newTLSSetup(t)
	c := etcdtest.StartWith(t, 1, etcdtest.Options{ClientTLS: &clientv3.TLSInfo{
		CertFile:       filepath.Join(s.dir, "server.pem"),
		KeyFile:        filepath.Join(s.dir, "server-key.pem"),
		TrustedCAFile:  s.caFile,
		ClientCertAuth: true,
	}})
	if !strings.HasPrefix(c.Endpoints()[0], "https://") {
		t.Fatalf("endpoint %s is not https", c.Endpoints()[0])
	}
	state := clusterState(t)
	tlsConf := "  tls: {ca: " + s.caFile + ", cert: " + s.clientCert + ", key: " + s.clientKey + "}\n"
	a := newClusterNodeEnv(t, "node-a", c.Endpoints(), "state: "+state+"\n", tlsConf)
	a.waitWWW(t, "192.0.2.1", 5*time.Second)
	if code, body := a.setWWW(t, "192.0.2.7"); code != http.StatusOK {
		t.Fatalf("write over TLS: %d %s", code, body)
	}
	a.waitStatus(t, "ready", 5*time.Second)

	stranger := "  tls: {ca: " + s.caFile + ", cert: " + s.strangerCert + ", key: " + s.strangerKey + "}\n"
	b := newClusterNodeEnv(t, "node-b", c.Endpoints(), "", stranger)
	body := b.waitStatus(t, "degraded", 5*time.Second)
	t.Logf("node with a certificate etcd does not trust: %v", body["reason"])
	if code, _ := b.setWWW(t, "192.0.2.8"); code != http.StatusServiceUnavailable {
		t.Fatalf("write through the refused node: %d, want 503", code)
	}
}

// TestClusterEtcdAuth: etcd with authentication on and a meridian user
// allowed the /meridian/ prefix only. A node with that user and its
// password in MERIDIAN_ETCD_PASSWORD works, votes and leases included; a
// node restarted while etcd is away still starts, on its local copy.
func TestClusterEtcdAuth(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	cli, err := etcd.New(etcd.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-secret"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "meridian"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "meridian", "/meridian/", etcd.GetPrefixRangeEnd("/meridian/"), etcd.PermissionType(etcd.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "meridian", "meridian-secret"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "meridian", "meridian"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
	cli.Close()

	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 1}"
	state := twoDCState(t, check, primary.addr, secondary.addr)
	auth := "  username: meridian\n"
	a := newClusterNodeEnv(t, "node-a", c.Endpoints(), "state: "+state+"\nchecker: {embedded: true}\n", auth,
		"MERIDIAN_ETCD_PASSWORD=meridian-secret")
	// The embedded checker's votes (under a lease) reach a verdict.
	waitAlpha(t, a.p, func(v verdictView) bool { return v.Health == "up" && v.voteOf("node-a") == "up" }, 20*time.Second)
	a.waitStatus(t, "ready", 5*time.Second)

	// A wrong password is a configuration error: the node refuses to
	// start and says why.
	cfg := filepath.Join(t.TempDir(), "wrong.yaml")
	writeFile(t, cfg, "data_dir: "+filepath.Join(t.TempDir(), "data")+"\nstore:\n  backend: etcd\n  endpoints: ["+c.Endpoints()[0]+"]\n"+auth)
	_, err = tryStartServeIn(t, []string{"MERIDIAN_ETCD_PASSWORD=wrong"}, "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("node with a wrong etcd password: %v, want a start failure naming authentication", err)
	}

	c.Stop()
	a.waitStatus(t, "degraded", 15*time.Second)
	a.kill(t)
	a.start(t)
	a.waitStatus(t, "degraded", 5*time.Second)
	if got := answerOf(t, a.p); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Fatalf("node restarted with etcd away answers %v, want its last state", got)
	}
}
