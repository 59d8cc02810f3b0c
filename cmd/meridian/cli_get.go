package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/checker/fleet"
	"github.com/meridian-gslb/meridian/store/model"
)

// getKinds are the kinds `meridian get` shows, by the plural the command
// takes (the API's collection name).
var getKinds = map[string]model.Kind{
	"zones": model.KindZone, "regions": model.KindRegion, "datacenters": model.KindDatacenter,
	"services": model.KindService, "overrides": model.KindOverride, "events": model.KindEvent,
	"tokens": model.KindToken, "checkers": model.KindChecker, "verdicts": model.KindVerdict,
	"webhooks": model.KindWebhook,
}

// Health reports that `meridian get` shows besides the kinds: documents
// the health engine computes (GET /api/v1/availability, /api/v1/status),
// not objects, so they take no NAME and have no list.
const (
	getAvailability = "availability"
	getStatus       = "status"
)

// getNames is every name get takes, for help and errors.
func getNames() string {
	return strings.Join(append(getKindNames(), getAvailability, getStatus), ", ")
}

func getKindNames() []string {
	names := make([]string, 0, len(getKinds))
	for n := range getKinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// getKindOf accepts the plural, the singular and a few short forms.
func getKindOf(s string) (model.Kind, bool) {
	s = strings.ToLower(s)
	if k, ok := getKinds[s]; ok {
		return k, true
	}
	if k, ok := getKinds[s+"s"]; ok {
		return k, true
	}
	switch s {
	case "dc", "dcs":
		return model.KindDatacenter, true
	case "svc", "svcs":
		return model.KindService, true
	}
	return "", false
}

// getOptions are the flags of get (and token list).
type getOptions struct {
	output               string
	since, until, object string
	limit                int
	qtype                string
}

func newGetCmd() *cobra.Command {
	var (
		api  apiFlags
		opts getOptions
	)
	cmd := &cobra.Command{
		Use:   "get KIND [NAME] | get availability|status",
		Short: "Show objects, overrides, events, tokens, checkers, verdicts, webhooks or health reports",
		Long: `Get lists the objects of a kind, or shows one by name, as a table (the
default), as the API's JSON (-o json) or as YAML (-o yaml). Lists follow the
API's pages to the end (--limit stops earlier); -o json prints them as one
{"items": [...], "next": ""} document.

KIND is one of: ` + strings.Join(getKindNames(), ", ") + `.
A service is named NAME (all its types) or NAME/TYPE; an override by its
target, datacenter/NAME or endpoint/SERVICE/TYPE/ADDRESS (a bare NAME means
datacenter/NAME). Events are listed oldest first and filtered with --since,
--until and --object. Verdicts (the health engine's view of each checked
endpoint) are filtered by service: NAME or NAME/TYPE. Webhooks never show
their secret, only whether they have one.

Two health reports take no NAME; -o json and -o yaml print the API's
document as it is:

  availability  per data center, service and endpoint (SERVICE/TYPE/ADDRESS):
                the percentage of the last 24h, 7d and 30d that it was up
                (cut, never rounded, to three decimals: 100% only without
                any downtime) and the minutes it was down in 30d
  status        every data center with how many of its checked endpoints
                are up, down and unknown (status up, degraded or down),
                then every checker: fresh, stale or isolated, and the age
                of its last report`,
		Example: `  meridian get datacenters
  meridian get services app.gslb.example.test/A -o json
  meridian get events --since 1h --object datacenter/fra
  meridian get verdicts app.gslb.example.test
  meridian get status
  meridian get availability -o json`,
		RunE: runE(cobra.RangeArgs(1, 2), func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if report := strings.ToLower(args[0]); report == getAvailability || report == getStatus {
				if len(args) == 2 {
					return usageErrorf("%s takes no NAME", report)
				}
				if err := opts.checkReport(cmd, report); err != nil {
					return err
				}
				c, err := api.client(cmd)
				if err != nil {
					return err
				}
				return runGetReport(ctx, cmd.OutOrStdout(), c, report, opts.output)
			}
			kind, ok := getKindOf(args[0])
			if !ok {
				return usageErrorf("unknown kind %q: want one of %s", args[0], getNames())
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			if err := opts.check(cmd, kind, name); err != nil {
				return err
			}
			c, err := api.client(cmd)
			if err != nil {
				return err
			}
			return runGet(ctx, cmd.OutOrStdout(), c, kind, name, &opts)
		}),
	}
	api.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&opts.output, "output", "o", "table", "output format: table, json or yaml")
	f.StringVar(&opts.since, "since", "", "events at or after this time: RFC 3339 (2026-01-02T15:04:05Z), a date, or a duration ago (90m)")
	f.StringVar(&opts.until, "until", "", "events before this time (same forms as --since)")
	f.StringVar(&opts.object, "object", "", "events of one object (datacenter/fra) or of a kind (datacenter/)")
	f.IntVar(&opts.limit, "limit", 0, "show at most this many items (0: all)")
	f.StringVar(&opts.qtype, "type", "", "services and verdicts: the type (A, AAAA, CNAME) when NAME has several")
	return asClientCommand(cmd)
}

func (o *getOptions) check(cmd *cobra.Command, kind model.Kind, name string) error {
	switch o.output {
	case "table", "json", "yaml":
	default:
		return usageErrorf("-o %q: want table, json or yaml", o.output)
	}
	if o.limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	if kind != model.KindEvent {
		for _, f := range []string{"since", "until", "object"} {
			if cmd.Flags().Changed(f) {
				return usageErrorf("--%s is for events only", f)
			}
		}
	} else if name != "" {
		return usageErrorf("events have no names: filter with --object, --since and --until")
	}
	if o.qtype != "" && ((kind != model.KindService && kind != model.KindVerdict) || name == "") {
		return usageErrorf("--type chooses among the services of one NAME")
	}
	return nil
}

// checkReport checks the flags of get availability and get status: an
// output format, and none of the list flags.
func (o *getOptions) checkReport(cmd *cobra.Command, report string) error {
	for _, f := range []string{"limit", "type"} {
		if cmd.Flags().Changed(f) {
			return usageErrorf("--%s is not for %s", f, report)
		}
	}
	return o.check(cmd, "", "")
}

// eventTime reads --since/--until: RFC 3339, a date, or a duration ago.
func eventTime(flag, s string, now time.Time) (string, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	return "", usageErrorf("--%s %q: want RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (90m)", flag, s)
}

func runGet(ctx context.Context, w io.Writer, c *client.Client, kind model.Kind, name string, o *getOptions) error {
	if kind == model.KindVerdict && name != "" {
		// Verdicts have no route of their own: NAME filters by service.
		if o.qtype != "" {
			name = strings.TrimSuffix(name, "/"+o.qtype) + "/" + strings.ToUpper(o.qtype)
		}
		items, err := c.List(ctx, client.CollectionPath(kind), url.Values{"service": {name}}, o.limit)
		if err != nil {
			return err
		}
		return writeItems(w, kind, items, true, o.output)
	}
	if name == "" {
		query := url.Values{}
		if kind == model.KindEvent {
			now := time.Now()
			for flag, v := range map[string]string{"since": o.since, "until": o.until} {
				if v == "" {
					continue
				}
				t, err := eventTime(flag, v, now)
				if err != nil {
					return err
				}
				query.Set(flag, t)
			}
			if o.object != "" {
				query.Set("object", o.object)
			}
		}
		items, err := c.List(ctx, client.CollectionPath(kind), query, o.limit)
		if err != nil {
			return err
		}
		return writeItems(w, kind, items, true, o.output)
	}
	switch kind {
	case model.KindOverride:
		if !strings.Contains(name, "/") {
			name = model.DatacenterTarget(name)
		}
	case model.KindService:
		if o.qtype != "" {
			name = strings.TrimSuffix(name, "/"+o.qtype) + "/" + strings.ToUpper(o.qtype)
		}
	}
	path, query := client.ObjectPath(kind, name)
	var raw json.RawMessage
	err := c.GetJSON(ctx, path, query, &raw)
	if kind == model.KindService && !strings.Contains(name, "/") && client.IsStatus(err, http.StatusBadRequest) {
		// A name with services of several types: show them all.
		return getServicesNamed(ctx, w, c, name, o)
	}
	if err != nil {
		return err
	}
	return writeItems(w, kind, []json.RawMessage{raw}, false, o.output)
}

func getServicesNamed(ctx context.Context, w io.Writer, c *client.Client, name string, o *getOptions) error {
	all, err := c.List(ctx, client.CollectionPath(model.KindService), nil, 0)
	if err != nil {
		return err
	}
	want := model.CanonicalName(name)
	var items []json.RawMessage
	for _, raw := range all {
		var s struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &s) == nil && s.Name == want {
			items = append(items, raw)
		}
	}
	return writeItems(w, model.KindService, items, true, o.output)
}

// writeItems prints items in format; a list (isList) is printed as the
// API's list document in json and yaml.
func writeItems(w io.Writer, kind model.Kind, items []json.RawMessage, isList bool, format string) error {
	if format == "table" {
		return writeTable(w, kind, items)
	}
	var doc []byte
	var err error
	if isList {
		if items == nil {
			items = []json.RawMessage{}
		}
		doc, err = json.Marshal(struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}{items, ""})
	} else {
		doc, err = json.Marshal(items[0])
	}
	if err != nil {
		return err
	}
	if format == "yaml" {
		return writeYAML(w, doc)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// writeYAML prints a JSON document as YAML, keeping its key order.
func writeYAML(w io.Writer, doc []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return err
	}
	var plain func(*yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// tableColumn is one column of a kind's table.
type tableColumn struct {
	header string
	value  func(m map[string]any) string
}

func col(key string) func(map[string]any) string {
	return func(m map[string]any) string { return cellText(m[key]) }
}

func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = cellText(e)
		}
		return strings.Join(parts, ",")
	}
	return compactJSON(v)
}

// timeCol prints an RFC 3339 time shorter, in UTC to the second.
func timeCol(key string) func(map[string]any) string {
	return func(m map[string]any) string {
		s, _ := m[key].(string)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return s
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var getTables = map[model.Kind][]tableColumn{
	model.KindZone: {
		{"NAME", col("name")},
		{"TTL", col("ttl")},
		{"NAMESERVERS", func(m map[string]any) string {
			var names []string
			for _, ns := range jsonList(m["nameservers"]) {
				names = append(names, cellText(jsonMap(ns)["name"]))
			}
			return strings.Join(names, ",")
		}},
		{"RECORDS", func(m map[string]any) string { return strconv.Itoa(len(jsonList(m["records"]))) }},
		{"MANAGED BY", col("managed_by")},
		{"REVISION", col("revision")},
	},
	model.KindRegion: {
		{"NAME", col("name")},
		{"CONTINENTS", col("continents")},
		{"COUNTRIES", col("countries")},
		{"NETWORKS", col("networks")},
		{"MANAGED BY", col("managed_by")},
		{"REVISION", col("revision")},
	},
	model.KindDatacenter: {
		{"NAME", col("name")},
		{"REGION", col("region")},
		{"LAT", func(m map[string]any) string { return cellText(jsonMap(m["location"])["lat"]) }},
		{"LON", func(m map[string]any) string { return cellText(jsonMap(m["location"])["lon"]) }},
		{"MANAGED BY", col("managed_by")},
		{"REVISION", col("revision")},
	},
	model.KindService: {
		{"NAME", col("name")},
		{"TYPE", col("type")},
		{"POLICY", func(m map[string]any) string { return policyText(m["policy"]) }},
		{"TTL", col("ttl")},
		{"ENDPOINTS", func(m map[string]any) string {
			var eps []string
			for _, e := range jsonList(m["endpoints"]) {
				em := jsonMap(e)
				eps = append(eps, cellText(em["datacenter"])+":"+cellText(em["address"]))
			}
			return strings.Join(eps, " ")
		}},
		{"MANAGED BY", col("managed_by")},
		{"REVISION", col("revision")},
	},
	model.KindOverride: {
		{"TARGET", col("target")},
		{"ACTION", col("action")},
		{"REASON", col("reason")},
		{"BY", col("created_by")},
		{"AT", timeCol("created_at")},
	},
	model.KindEvent: {
		{"SEQ", col("seq")},
		{"AT", timeCol("at")},
		{"TYPE", col("type")},
		{"OBJECT", col("object")},
		{"ACTOR", col("actor")},
		{"DETAIL", col("detail")},
	},
	model.KindToken: {
		{"NAME", col("name")},
		{"ROLE", col("role")},
		{"CREATED", timeCol("created_at")},
		{"MANAGED BY", col("managed_by")},
	},
	model.KindChecker: {
		{"NAME", col("name")},
		{"REGION", col("region")},
		{"LAST SEEN", timeCol("last_seen")},
		{"ISOLATED", col("isolated")},
	},
	model.KindVerdict: {
		{"SERVICE", col("service")},
		{"ENDPOINT", col("endpoint")},
		{"DATACENTER", col("datacenter")},
		{"HEALTH", col("health")},
		{"SINCE", timeCol("since")},
		{"REASON", col("reason")},
	},
	model.KindWebhook: {
		{"NAME", col("name")},
		{"URL", col("url")},
		{"HAS SECRET", col("has_secret")},
	},
}

func jsonMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func jsonList(v any) []any         { l, _ := v.([]any); return l }

// policyText is a policy as the state file writes it, short: a preset's
// name, or the steps' names.
func policyText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var steps []string
		for _, s := range v {
			switch s := s.(type) {
			case string:
				steps = append(steps, s)
			case map[string]any:
				for k, arg := range s {
					if k == "first" {
						steps = append(steps, "first "+cellText(arg))
					} else {
						steps = append(steps, k)
					}
				}
			}
		}
		return strings.Join(steps, ",")
	}
	return cellText(v)
}

// writeTable prints items as a table with a header line; cells are
// cleaned of tabs and newlines so that the columns hold.
func writeTable(w io.Writer, kind model.Kind, items []json.RawMessage) error {
	cols := getTables[kind]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, raw := range items {
		v, err := decodeJSONValue(raw)
		if err != nil {
			return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
		}
		m := jsonMap(v)
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = orDash(cleanCell(c.value(m)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cleanCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// runGetReport prints the availability or status report: the API's
// document for json and yaml, tables otherwise.
func runGetReport(ctx context.Context, w io.Writer, c *client.Client, report, format string) error {
	var raw json.RawMessage
	var err error
	if report == getAvailability {
		err = c.Availability(ctx, &raw)
	} else {
		err = c.Status(ctx, &raw)
	}
	if err != nil {
		return err
	}
	if format != "table" {
		return writeItems(w, "", []json.RawMessage{raw}, false, format)
	}
	if report == getAvailability {
		var rep fleet.AvailabilityReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
		}
		return writeAvailability(w, &rep)
	}
	var st fleet.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
	}
	return writeStatus(w, &st)
}

// writeAvailability prints one row per data center, service and endpoint
// (named SERVICE/TYPE/ADDRESS, as --endpoint takes it) with its
// percentage up over each window and its downtime over the longest.
func writeAvailability(w io.Writer, rep *fleet.AvailabilityReport) error {
	windows := rep.Windows
	if len(windows) == 0 {
		for _, win := range fleet.AvailabilityWindows {
			windows = append(windows, win.Name)
		}
	}
	longest := windows[len(windows)-1]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	headers := []string{"KIND", "NAME"}
	for _, name := range windows {
		headers = append(headers, strings.ToUpper(name))
	}
	headers = append(headers, "DOWNTIME "+strings.ToUpper(longest)+" (MIN)")
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	var rows []fleet.AvailabilityRow
	rows = append(rows, rep.Datacenters...)
	rows = append(rows, rep.Services...)
	rows = append(rows, rep.Endpoints...)
	for _, r := range rows {
		name := r.Name
		if r.Kind == fleet.KindEndpoint {
			name = r.Service + "/" + r.Name
		}
		cells := []string{r.Kind, name}
		for _, win := range windows {
			cells = append(cells, percentText(r.Windows[win]))
		}
		cells = append(cells, minutesText(r.Windows[longest].DowntimeMinutes))
		for i := range cells {
			cells[i] = orDash(cleanCell(cells[i]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// percentText is a window's percentage up with three decimals, cut
// rather than rounded so that any downtime shows: 100% only without
// downtime, 99.999% for a second in a day.
func percentText(win fleet.Window) string {
	if win.DowntimeSeconds <= 0 {
		return "100%"
	}
	// The epsilon keeps 99.975 (stored as 99.97499…) from becoming 99.974.
	p := math.Floor(win.Percent*1000+1e-6) / 1000
	return strconv.FormatFloat(min(p, 99.999), 'f', 3, 64) + "%"
}

// minutesText is downtime in minutes with two decimals; downtime too
// short for them is "<0.01", not 0.
func minutesText(m float64) string {
	if m > 0 && m < 0.01 {
		return "<0.01"
	}
	return strconv.FormatFloat(m, 'f', 2, 64)
}

// writeStatus prints the data centers, a blank line, then the checkers.
func writeStatus(w io.Writer, st *fleet.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREGION\tSTATUS\tUP\tDOWN\tUNKNOWN")
	for _, d := range st.Datacenters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", cleanCell(d.Name), orDash(cleanCell(d.Region)), d.Status, d.Up, d.Down, d.Unknown)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREGION\tSTATE\tLAST SEEN\tAGE")
	for _, c := range st.Checkers {
		seen, age := "-", "-"
		if !c.LastSeen.IsZero() {
			seen = c.LastSeen.UTC().Format("2006-01-02 15:04:05Z")
			age = time.Duration(c.AgeSeconds * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cleanCell(c.Name), orDash(cleanCell(c.Region)), c.State, seen, age)
	}
	return tw.Flush()
}
