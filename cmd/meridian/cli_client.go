package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/api/client"
)

// The commands that talk to the API: apply, get, drain, undrain,
// force-down, force-up, token, and explain without --config.

// Environment variables of the API commands; flags win over them.
const (
	envServer = "MERIDIAN_SERVER"
	envToken  = "MERIDIAN_TOKEN"
	envCA     = "MERIDIAN_CA"
	envCert   = "MERIDIAN_CERT"
	envKey    = "MERIDIAN_KEY"
)

// Exit codes of the API commands, a contract for scripts (cmd/README.md).
const (
	exitOK          = 0
	exitRefused     = 1 // the server refused or failed; a state file that does not load
	exitUsage       = 2 // bad flags or arguments, missing configuration (no token)
	exitUnreachable = 3 // no answer from the server
)

// clientCommands are the API commands, registered on the root command.
func clientCommands() []*cobra.Command {
	return []*cobra.Command{newApplyCmd(), newGetCmd(),
		newOverrideCmd(overrideDrain), newUndrainCmd(), newOverrideCmd(overrideForceDown), newOverrideCmd(overrideForceUp),
		newTokenCmd()}
}

// apiFlags are --server, --token, --timeout and the TLS flags --ca,
// --cert and --key, on every API command and the checker agent.
type apiFlags struct {
	server, token string
	ca, cert, key string
	timeout       time.Duration
}

// trustCheckMax bounds the handshake that checks an https server's
// certificate before the first request.
const trustCheckMax = 5 * time.Second

func (f *apiFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.server, "server", "", "API address, http(s)://host:port (env "+envServer+"; default "+client.DefaultServer+")")
	fs.StringVar(&f.token, "token", "", "API token (env "+envToken+")")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "give up on a request after this long")
	fs.StringVar(&f.ca, "ca", "", "PEM file of the CA(s) to verify an https server with, instead of the system roots (env "+envCA+")")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate to present, with --key (env "+envCert+")")
	fs.StringVar(&f.key, "key", "", "PEM private key of --cert (env "+envKey+")")
}

// flagOrEnv is the flag's value when it was given, else the variable's.
func flagOrEnv(cmd *cobra.Command, flag, value, env string) string {
	if cmd.Flags().Changed(flag) {
		return value
	}
	return os.Getenv(env)
}

// client makes the API client from the flags and the environment.
func (f *apiFlags) client(cmd *cobra.Command) (*client.Client, error) {
	return f.clientFor(cmd, flagOrEnv(cmd, "server", f.server, envServer))
}

// clients makes one API client per server of a comma-separated --server
// (or MERIDIAN_SERVER): the nodes of a cluster, for the checker agent.
func (f *apiFlags) clients(cmd *cobra.Command) ([]*client.Client, error) {
	var out []*client.Client
	for s := range strings.SplitSeq(flagOrEnv(cmd, "server", f.server, envServer), ",") {
		c, err := f.clientFor(cmd, strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// clientFor makes the API client of one server from the flags and the
// environment.
func (f *apiFlags) clientFor(cmd *cobra.Command, server string) (*client.Client, error) {
	token := strings.TrimSpace(flagOrEnv(cmd, "token", f.token, envToken))
	if token == "" {
		return nil, usageErrorf("no API token: give --token or set %s (the server logs an admin token at its first start, or accepts MERIDIAN_ADMIN_TOKEN)", envToken)
	}
	if f.timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive")
	}
	tcfg, err := clientTLSConfig(flagOrEnv(cmd, "ca", f.ca, envCA),
		flagOrEnv(cmd, "cert", f.cert, envCert), flagOrEnv(cmd, "key", f.key, envKey))
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tcfg
	c, err := client.New(server, token, &http.Client{Timeout: f.timeout, Transport: tr})
	if err != nil {
		return nil, usageErrorf("--server / %s: %v", envServer, err)
	}
	c.UserAgent = "meridian/" + version
	// An untrusted certificate is a configuration error that no retry
	// fixes: find it before the first request, so that the command (and
	// the checker agent) stops with a clear message.
	u, _ := client.ParseServer(server)
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkServerTrust(ctx, u, tcfg, min(f.timeout, trustCheckMax)); err != nil {
		return nil, err
	}
	return c, nil
}

// usageError is a mistake in the command line or missing configuration:
// exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// refusedError is an operation that failed for a reason other than the
// server's answer (a state file with an error in it): exit 1.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// exitCode is the exit status for err.
func exitCode(err error) int {
	var (
		usage *usageError
		netw  *client.NetworkError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &netw), errors.Is(err, context.DeadlineExceeded):
		return exitUnreachable
	}
	return exitRefused
}

// writeError prints err for a person: a problem with its field errors,
// and what to do about the usual ones.
func writeError(w io.Writer, cmd *cobra.Command, err error) {
	var (
		p     *client.Problem
		usage *usageError
	)
	switch {
	case errors.As(err, &p):
		verb := "refused"
		if p.Status >= 500 {
			verb = "failed"
		}
		fmt.Fprintf(w, "meridian: the server %s: %d %s", verb, p.Status, p.Title)
		if p.Detail != "" {
			fmt.Fprintf(w, ": %s", p.Detail)
		}
		fmt.Fprintln(w)
		for _, fe := range p.Errors {
			if fe.Field != "" {
				fmt.Fprintf(w, "  %s: %s\n", fe.Field, fe.Message)
			} else {
				fmt.Fprintf(w, "  %s\n", fe.Message)
			}
		}
		if len(p.ReferencedBy) > 0 {
			fmt.Fprintf(w, "  still referenced by: %s\n", strings.Join(p.ReferencedBy, ", "))
		}
		if p.CurrentRevision != nil {
			fmt.Fprintf(w, "  current revision: %d\n", *p.CurrentRevision)
		}
		switch p.Status {
		case http.StatusUnauthorized:
			fmt.Fprintf(w, "  check --token / %s\n", envToken)
		case http.StatusForbidden:
			fmt.Fprintln(w, "  this needs a token with role admin")
		}
	case errors.As(err, &usage):
		fmt.Fprintln(w, "meridian:", err)
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	default:
		fmt.Fprintln(w, "meridian:", err)
	}
}

// cliExit ends the process with an exit code (a variable for tests).
var cliExit = os.Exit

// cliFail prints err and exits with its code. The API commands exit here
// rather than in main so that scripts get the codes of exitCode.
func cliFail(cmd *cobra.Command, err error) error {
	writeError(cmd.ErrOrStderr(), cmd, err)
	cliExit(exitCode(err))
	return err // reached only when a test replaced exit
}

// runE wraps an API command's body: it checks the arguments with args
// (a usage error, exit 2, rather than cobra's exit 1), runs body with a
// context that ends on SIGINT, and exits with exitCode on error.
func runE(args cobra.PositionalArgs, body func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, a []string) error {
		if args != nil {
			if err := args(cmd, a); err != nil {
				return cliFail(cmd, &usageError{msg: err.Error()})
			}
		}
		ctx, stop := interruptContext(cmd.Context())
		defer stop()
		if err := body(ctx, cmd, a); err != nil {
			return cliFail(cmd, err)
		}
		return nil
	}
}

// asClientCommand makes cmd and its subcommands report flag errors as
// usage errors (exit 2).
func asClientCommand(cmd *cobra.Command) *cobra.Command {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cliFail(c, &usageError{msg: err.Error()})
	})
	cmd.Args = cobra.ArbitraryArgs // checked by runE, for exit 2
	return cmd
}

// interruptContext ends with SIGINT, so that ^C abandons a request.
func interruptContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt)
}
