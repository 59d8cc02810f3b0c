package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/store/model"
)

// overrideVerb is one of the override commands.
type overrideVerb struct {
	use, action, short, done string
}

var (
	overrideDrain = overrideVerb{"drain", model.OverrideDrain,
		"Drain a data center (or an endpoint): take it out of answers while anything else is left", "drained"}
	overrideForceDown = overrideVerb{"force-down", model.OverrideForceDown,
		"Treat a data center (or an endpoint) as down, whatever the health checks say", "forced down"}
	overrideForceUp = overrideVerb{"force-up", model.OverrideForceUp,
		"Treat a data center (or an endpoint) as up, whatever the health checks say", "forced up"}
)

// overrideTarget is the target of DC or of --endpoint SERVICE/TYPE/ADDRESS
// (exactly one of them).
func overrideTarget(args []string, endpoint string) (string, error) {
	switch {
	case endpoint != "" && len(args) > 0:
		return "", usageErrorf("give a data center or --endpoint, not both")
	case endpoint != "":
		parts := strings.Split(endpoint, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return "", usageErrorf("--endpoint %q: want SERVICE/TYPE/ADDRESS, as in app.gslb.example.test/A/192.0.2.10", endpoint)
		}
		return model.TargetEndpoint + "/" + endpoint, nil
	case len(args) == 1:
		return model.DatacenterTarget(args[0]), nil
	}
	return "", usageErrorf("give the data center: DC, or --endpoint SERVICE/TYPE/ADDRESS")
}

func newOverrideCmd(v overrideVerb) *cobra.Command {
	var (
		api              apiFlags
		reason, endpoint string
	)
	cmd := &cobra.Command{
		Use:   v.use + " DC --reason TEXT",
		Short: v.short,
		Long: v.short + `.

This sets the operator override of the data center (target datacenter/DC), or
with --endpoint of one endpoint of a service, replacing any override it had.
--reason is required: it is shown to the next operator and kept in the event
log. 'meridian undrain' removes the override.`,
		Example: fmt.Sprintf(`  meridian %s fra --reason "kernel upgrade, CHG-1234"
  meridian %s --endpoint app.gslb.example.test/A/192.0.2.10 --reason "bad disk"`, v.use, v.use),
		RunE: runE(cobra.MaximumNArgs(1), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			target, err := overrideTarget(args, endpoint)
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason is required: say why, for the next operator")
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			ov, replaced, err := c.SetOverride(ctx, target, v.action, reason)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("%s %s: %s", ov.Target, v.done, ov.Reason)
			if replaced {
				msg += " (replaced the override it had)"
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		}),
	}
	api.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "override one endpoint instead: SERVICE/TYPE/ADDRESS")
	return asClientCommand(cmd)
}

func newUndrainCmd() *cobra.Command {
	var (
		api      apiFlags
		endpoint string
	)
	cmd := &cobra.Command{
		Use:   "undrain DC",
		Short: "Remove the override of a data center (or an endpoint): drain, force-down or force-up",
		Long: `Undrain removes the operator override of the data center (or, with
--endpoint, of one endpoint), whatever its action: drained, forced down or
forced up, it is answered by its health again. It fails (exit 1, 404) when
there is no override.`,
		Example: `  meridian undrain fra
  meridian undrain --endpoint app.gslb.example.test/A/192.0.2.10`,
		RunE: runE(cobra.MaximumNArgs(1), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			target, err := overrideTarget(args, endpoint)
			if err != nil {
				return err
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteOverride(ctx, target); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: override removed\n", target)
			return nil
		}),
	}
	api.register(cmd)
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the endpoint instead: SERVICE/TYPE/ADDRESS")
	return asClientCommand(cmd)
}
