package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is stamped at build time: go build -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "meridian",
		Short: "Meridian is a global server load balancer that works through DNS",
		Long: `Meridian is an authoritative DNS server that answers each query with the
addresses of the data center that should serve the client.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newExplainCmd(), newVersionCmd(), newCheckerCmd(), newDemoCmd())
	root.AddCommand(clientCommands()...)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "meridian", version)
		},
	}
}

func newServeCmd() *cobra.Command {
	var (
		configPath string
		over       Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authoritative DNS server and the HTTP endpoints",
		Long: `Run Meridian: open the store in the data directory, reconcile the state file
named in the config (if any), and answer DNS on every dns.listen address over
UDP and TCP until SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := DefaultConfig()
			if configPath != "" {
				var err error
				if cfg, err = LoadConfig(configPath); err != nil {
					return err
				}
			}
			flags := cmd.Flags()
			if flags.Changed("dns-listen") {
				cfg.DNS.Listen = over.DNS.Listen
			}
			if flags.Changed("http-listen") {
				cfg.HTTP.Listen = over.HTTP.Listen
			}
			if flags.Changed("data-dir") {
				cfg.DataDir = over.DataDir
			}
			if flags.Changed("state") {
				cfg.State = over.State
			}
			if flags.Changed("log-format") {
				cfg.Log.Format = over.Log.Format
			}
			if flags.Changed("log-level") {
				cfg.Log.Level = over.Log.Level
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, newLogger(cfg))
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML config file")
	f.StringSliceVar(&over.DNS.Listen, "dns-listen", nil, "DNS listen addresses, host:port (overrides dns.listen; repeat or comma-separate)")
	f.StringVar(&over.HTTP.Listen, "http-listen", "", "HTTP listen address, host:port (overrides http.listen)")
	f.StringVar(&over.DataDir, "data-dir", "", "directory of the bbolt file (overrides data_dir)")
	f.StringVar(&over.State, "state", "", "desired-state file reconciled at start (overrides state)")
	f.StringVar(&over.Log.Format, "log-format", "", "log format: text or json (overrides log.format)")
	f.StringVar(&over.Log.Level, "log-level", "", "log level: debug, info, warn or error (overrides log.level)")
	return cmd
}

func newLogger(cfg *Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
