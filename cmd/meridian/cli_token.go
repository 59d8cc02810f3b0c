package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/store/model"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create|list|revoke",
		Short: "Create, list and revoke API tokens (needs an admin token)",
		Long: `Tokens authenticate API requests (Authorization: Bearer). Roles: admin
(everything), read (GET only), checker (the checker fleet's routes). A
token's secret is shown once, when it is created; the server keeps only its
hash.`,
		RunE: runE(nil, func(_ context.Context, cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown token command %q: want create, list or revoke", args[0])
			}
			return usageErrorf("give a token command: create, list or revoke")
		}),
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return asClientCommand(cmd)
}

func newTokenCreateCmd() *cobra.Command {
	var (
		api  apiFlags
		role string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role admin|read|checker",
		Short: "Create a token and print its secret (shown once)",
		Long: `Create makes a token and prints its secret, and only the secret, on standard
output, so that a script can keep it:

  TOKEN=$(meridian token create ci --role read)

The secret is not shown again: store it now.`,
		RunE: runE(cobra.ExactArgs(1), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			r := model.Role(strings.ToLower(role))
			switch r {
			case model.RoleAdmin, model.RoleRead, model.RoleChecker:
			case "":
				return usageErrorf("--role is required: admin, read or checker")
			default:
				return usageErrorf("--role %q: want admin, read or checker", role)
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			t, err := c.CreateToken(ctx, args[0], r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "created token %s (role %s); its secret is shown once: store it now\n", t.Name, t.Role)
			return nil
		}),
	}
	api.register(cmd)
	cmd.Flags().StringVar(&role, "role", "", "admin, read or checker (required)")
	return asClientCommand(cmd)
}

func newTokenListCmd() *cobra.Command {
	var (
		api  apiFlags
		opts getOptions
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (names and roles; never secrets)",
		RunE: runE(cobra.NoArgs, func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if err := opts.check(cmd, model.KindToken, ""); err != nil {
				return err
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			return runGet(ctx, cmd.OutOrStdout(), c, model.KindToken, "", &opts)
		}),
	}
	api.register(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table, json or yaml")
	return asClientCommand(cmd)
}

func newTokenRevokeCmd() *cobra.Command {
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: requests with it are refused (401) from now on",
		RunE: runE(cobra.ExactArgs(1), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			if err := c.RevokeToken(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		}),
	}
	api.register(cmd)
	return asClientCommand(cmd)
}
