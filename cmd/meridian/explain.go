package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/statefile"
)

func newExplainCmd() *cobra.Command {
	var (
		configPath, statePath, client, resolver, qtype string
		asJSON                                         bool
		api                                            apiFlags
	)
	cmd := &cobra.Command{
		Use:   "explain NAME --client IP|PREFIX",
		Short: "Show how a query is answered, step by step: by the server, or by a state file",
		Long: `Explain shows, for one query, the client's location, each policy step with
the candidates before and after it, the answer, its TTL and the ECS scope.

Without --config or --state it asks the running server (GET /api/v1/explain,
with --server and --token or MERIDIAN_SERVER and MERIDIAN_TOKEN): the answer
of the snapshot the server serves now, overrides included.

With --config (or --state) it is local: it builds the answer snapshot from the
config's state file (and GeoIP database); nothing is started and the store is
not opened, so a state file can be checked before it is applied.

--client is the client's address, as the resolver's source address, or a
prefix (2.2.3.0/24), sent as EDNS Client Subnet from --resolver.`,
		Example: `  meridian explain app.gslb.example.test --client 2.2.3.0/24
  meridian explain --config examples/meridian.yaml app.gslb.example.test --client 2.2.3.0/24
  meridian explain --config examples/meridian.yaml app.gslb.example.test --client 2001:218::1 --type AAAA`,
		RunE: runE(cobra.ExactArgs(1), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if client == "" {
				return usageErrorf("--client is required: an IP address, or a prefix sent as EDNS Client Subnet")
			}
			q, err := explainQuery(args[0], qtype, client, resolver)
			if err != nil {
				return &usageError{msg: err.Error()}
			}
			if configPath == "" && statePath == "" {
				return explainRemote(ctx, cmd, &api, q, resolver, asJSON)
			}
			cfg := DefaultConfig()
			if configPath != "" {
				var err error
				if cfg, err = LoadConfig(configPath); err != nil {
					return err
				}
			}
			if statePath != "" {
				cfg.State = statePath
			}
			if cfg.State == "" {
				return fmt.Errorf("explain needs a state file: give --config with a state key, or --state")
			}
			desired, err := statefile.Load(cfg.State, dnsserver.ParseZoneFile)
			if err != nil {
				return err
			}
			quiet := slog.New(slog.DiscardHandler)
			db, opts, err := geoOptions(cfg, quiet)
			if err != nil {
				return err
			}
			if db != nil {
				defer db.Close()
			}
			snap, err := dnsserver.Build(desired, 0, opts)
			if err != nil {
				return err
			}
			e := snap.Explain(q)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(e)
			}
			return e.WriteText(cmd.OutOrStdout())
		}),
	}
	api.register(cmd)
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML config file (its state file and GeoIP database are used): explain locally")
	f.StringVar(&statePath, "state", "", "state file (overrides the config's): explain locally")
	f.StringVar(&client, "client", "", "client address, or a prefix sent as EDNS Client Subnet (required)")
	f.StringVar(&resolver, "resolver", "127.0.0.1", "the resolver's source address, when --client is a prefix")
	f.StringVar(&qtype, "type", "A", "query type")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return asClientCommand(cmd)
}

// explainRemote asks the server to explain q and prints its answer as
// the local path does: the API answers the DNS server's Explanation.
func explainRemote(ctx context.Context, cmd *cobra.Command, api *apiFlags, q dnsserver.ExplainQuery, resolver string, asJSON bool) error {
	c, err := api.client(cmd)
	if err != nil {
		return err
	}
	clientArg, resolverArg := q.Client.String(), ""
	if q.ECS.IsValid() {
		clientArg, resolverArg = q.ECS.String(), resolver
	}
	raw, err := c.Explain(ctx, q.Name, q.Type, clientArg, resolverArg)
	if err != nil {
		return err
	}
	if asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
			return fmt.Errorf("the server's explanation is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	var e dnsserver.Explanation
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("the server's explanation is not the JSON expected: %w", err)
	}
	return e.WriteText(cmd.OutOrStdout())
}

// explainQuery turns the command line into a query: an address is the
// resolver's source address; a prefix is ECS sent from resolver.
func explainQuery(name, qtype, client, resolver string) (dnsserver.ExplainQuery, error) {
	q := dnsserver.ExplainQuery{Name: model.CanonicalName(name), Type: strings.ToUpper(qtype)}
	if !model.ValidName(name) {
		return q, fmt.Errorf("%q is not a domain name", name)
	}
	if strings.Contains(client, "/") {
		p, err := netip.ParsePrefix(client)
		if err != nil {
			return q, fmt.Errorf("--client: %q is not an address or a prefix", client)
		}
		if p.Masked() != p {
			return q, fmt.Errorf("--client: %s has bits set past the prefix length (ECS forbids it); did you mean %s?", p, p.Masked())
		}
		r, err := netip.ParseAddr(resolver)
		if err != nil {
			return q, fmt.Errorf("--resolver: %q is not an address", resolver)
		}
		q.ECS, q.Client = p, r
		return q, nil
	}
	a, err := netip.ParseAddr(client)
	if err != nil {
		return q, fmt.Errorf("--client: %q is not an address or a prefix", client)
	}
	q.Client = a
	return q, nil
}
