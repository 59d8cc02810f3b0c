package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeployClusterConfigs: the node configs of deploy/ (the compose
// cluster's files and the Kubernetes ConfigMap's node.yaml) load with
// every key known and a valid etcd store section, and the compose nodes
// have names of their own.
func TestDeployClusterConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../deploy/cluster/node-*.yaml")
	if err != nil || len(paths) != 3 {
		t.Fatalf("compose node configs: %v %v", paths, err)
	}
	// The ConfigMap's node.yaml, written out as a file of its own.
	data, err := os.ReadFile("../../deploy/kubernetes/meridian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := false
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" && doc.Data["node.yaml"] != "" {
			p := filepath.Join(t.TempDir(), "node.yaml")
			writeFile(t, p, doc.Data["node.yaml"])
			paths = append(paths, p)
			found = true
		}
	}
	if !found {
		t.Fatal("deploy/kubernetes/meridian.yaml has no ConfigMap with node.yaml")
	}
	names := map[string]bool{}
	for _, p := range paths {
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !c.Store.etcd() || len(c.Store.Endpoints) != 3 {
			t.Errorf("%s: store %+v, want etcd with three endpoints", p, c.Store)
		}
		if err := c.validateStore(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if c.Node.Name != "" {
			if names[c.Node.Name] {
				t.Errorf("%s: node name %s used twice", p, c.Node.Name)
			}
			names[c.Node.Name] = true
		}
	}
}

// TestDeployExampleConfig: the single-node production example loads with
// every key known (its paths are those of a real server, so it is not
// validated here).
func TestDeployExampleConfig(t *testing.T) {
	c, err := LoadConfig("../../deploy/meridian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.etcd() {
		t.Fatal("the single-node example uses etcd; its store section should stay a comment")
	}
}
