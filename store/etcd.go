package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/meridian-gslb/meridian/store/model"
)

// ErrUnavailable is returned by writes while the shared store (etcd) is out
// of reach. Reads go on from the node's local copy; the API answers writes
// with 503.
var ErrUnavailable = errors.New("store: unavailable")

// Defaults of EtcdOptions.
const (
	DefaultEtcdPrefix     = "/meridian/"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultVoteTTL        = 30 * time.Second
	defaultProbeInterval  = time.Second
	maxCommitAttempts     = 100
	syncPageSize          = 1000
)

// EtcdOptions configure OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the etcd members' client URLs.
	Endpoints []string
	// Prefix starts every key Meridian writes (default DefaultEtcdPrefix).
	// Several Meridian clusters can share one etcd under different
	// prefixes.
	Prefix string
	// TLS is the client TLS configuration for https endpoints; nil for
	// plain http.
	TLS *tls.Config
	// Username and Password authenticate to etcd when set.
	Username, Password string
	// DialTimeout bounds the first connection (default 5s).
	DialTimeout time.Duration
	// RequestTimeout bounds each request to etcd (default 5s).
	RequestTimeout time.Duration
	// VoteTTL is the lease of checker votes: the votes of a checker that
	// stopped reporting are deleted by etcd this long after its last
	// report (default 30s). Verdicts already ignore such votes after
	// three check intervals; the lease is what removes them.
	VoteTTL time.Duration
	// MirrorPath is the local bbolt file that holds this node's copy of
	// the shared state (required). Reads are served from it, and it is
	// what the node answers from while etcd is unreachable.
	MirrorPath string
	// Logger receives connection changes and resynchronisations.
	Logger *slog.Logger
	// ProbeInterval is how often etcd's reachability is checked
	// (default 1s).
	ProbeInterval time.Duration
}

// EtcdStatus is the connection state of an Etcd store.
type EtcdStatus struct {
	// Connected is true while etcd answers and the local copy follows it.
	Connected bool
	// Reason says why not, when not connected.
	Reason string
	// Since is when Connected last changed.
	Since time.Time
	// Revision is the store revision of the local copy.
	Revision int64
	// EtcdRevision is the etcd revision the local copy reflects.
	EtcdRevision int64
	// Commits counts this node's committed transactions, Conflicts the
	// commits lost to another writer (fn then ran again), and Resyncs the
	// full reads of the prefix after the first (a compaction outran the
	// watch, or the copy could not apply a change).
	Commits, Conflicts, Resyncs int64
}

// Etcd is the Store of a cluster: the state lives in etcd under one key
// prefix and every node keeps a full copy of it in a local bbolt file (the
// mirror), kept current by an etcd watch.
//
//   - View, Revision and Watch work on the mirror, so reads cost what they
//     cost on Bolt and go on while etcd is unreachable.
//   - Update runs fn over the mirror and commits its writes in one etcd
//     transaction guarded by the store revision (a key of its own): when
//     another node committed in between, the transaction fails, the
//     mirror catches up and fn runs again. After a commit, Update waits
//     until the mirror holds it, so a View afterwards sees the write.
//   - Votes are written under one lease per checker, renewed by the
//     checker's reports: a checker that goes silent loses its votes after
//     VoteTTL without any node having to delete them.
//
// While etcd is unreachable Update fails fast with ErrUnavailable and
// Status says why; the watch resumes (or the mirror is resynchronised
// from a full read) when etcd returns.
type Etcd struct {
	cli    atomic.Pointer[clientv3.Client] // nil until the first connection
	opts   EtcdOptions
	prefix string
	mirror *Bolt
	log    *slog.Logger

	applied   atomic.Int64 // etcd revision the mirror reflects
	appliedMu sync.Mutex
	appliedCh chan struct{} // closed and replaced after each apply

	statusMu sync.Mutex
	status   EtcdStatus

	leaseMu sync.Mutex
	leases  map[string]voteLease // by checker name

	synced atomic.Bool // the mirror follows etcd (a full read succeeded)

	commits, conflicts, syncs atomic.Int64
	closed                    atomic.Bool
	cancel                    context.CancelFunc
	wg                        sync.WaitGroup
}

type voteLease struct {
	id      clientv3.LeaseID
	renewed time.Time
}

var _ Store = (*Etcd)(nil)

// OpenEtcd opens the local mirror, connects to etcd and, when etcd
// answers, brings the mirror up to date before returning. When etcd does
// not answer, it returns a store that serves the mirror's last state and
// refuses writes until etcd is back; Status tells which. It fails only
// for bad options, a mirror it cannot open, or an etcd prefix written by
// a newer schema.
func OpenEtcd(ctx context.Context, opts EtcdOptions) (*Etcd, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("store: etcd: no endpoints")
	}
	if opts.MirrorPath == "" {
		return nil, errors.New("store: etcd: no mirror path")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultEtcdPrefix
	}
	if !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.VoteTTL <= 0 {
		opts.VoteTTL = DefaultVoteTTL
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = defaultProbeInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mirror, err := openMirror(opts.MirrorPath, opts.Logger)
	if err != nil {
		return nil, err
	}
	e := &Etcd{
		opts:      opts,
		prefix:    opts.Prefix,
		mirror:    mirror,
		log:       opts.Logger,
		appliedCh: make(chan struct{}),
		leases:    map[string]voteLease{},
	}
	etcdRev, prefix, err := mirror.mirrorMeta()
	if err != nil {
		_ = mirror.Close()
		return nil, err
	}
	if prefix != "" && prefix != opts.Prefix {
		// A copy of another prefix is not this cluster's last state.
		if err := mirror.mirrorReset(opts.Prefix); err != nil {
			_ = mirror.Close()
			return nil, err
		}
		etcdRev = 0
	}
	e.applied.Store(etcdRev)

	rev, _ := mirror.Revision(ctx)
	e.status = EtcdStatus{Reason: "connecting to etcd", Since: time.Now(), Revision: rev, EtcdRevision: etcdRev}
	lctx, lcancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = lcancel

	// The first connection and synchronisation are bounded: a node whose
	// etcd is away starts on its last state rather than waiting. Only
	// credentials etcd refuses, and a newer schema, stop it.
	cli, err := e.newClient(ctx)
	if err == nil {
		e.cli.Store(cli)
		sctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
		err = e.fullSync(sctx)
		cancel()
	}
	switch {
	case errors.Is(err, ErrSchema), isAuthError(err):
		lcancel()
		if cli != nil {
			_ = cli.Close()
		}
		_ = mirror.Close()
		if isAuthError(err) {
			return nil, fmt.Errorf("store: etcd refused the credentials of user %q: %w", opts.Username, err)
		}
		return nil, err
	case err != nil:
		e.status.Reason = "etcd unreachable: " + e.explain(err)
		e.log.Warn("etcd unreachable at start; serving the last known state from the local copy",
			"endpoints", opts.Endpoints, "revision", rev, "err", e.status.Reason)
	default:
		e.status.Connected = true
	}
	if cli == nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.connectLater(lctx)
		}()
		return e, nil
	}
	e.startLoops(lctx, err == nil)
	return e, nil
}

// openMirror opens the local copy. A file that does not open as one
// (damaged, or not Meridian's) is only a copy of what etcd holds: it is
// moved aside, with a warning, and a new one is started, to be filled from
// etcd. A file held by another process, or written by a newer Meridian,
// stops the start instead: those are for the operator to sort out.
func openMirror(path string, log *slog.Logger) (*Bolt, error) {
	mirror, err := OpenBolt(path, BoltOptions{})
	if err == nil || errors.Is(err, ErrLocked) || errors.Is(err, ErrSchema) {
		return mirror, err
	}
	if _, serr := os.Stat(path); serr != nil {
		return nil, err // nothing there to move: not the file's fault
	}
	aside := fmt.Sprintf("%s.unusable-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%w (and moving it aside failed: %v)", err, rerr)
	}
	log.Warn("the local copy of the shared state could not be opened; moved aside, starting a new one from etcd",
		"path", path, "moved_to", aside, "err", err)
	return OpenBolt(path, BoltOptions{})
}

// newClient connects to etcd. With a user name, the client authenticates
// while connecting, so it fails when etcd is unreachable; without one it
// connects in the background.
func (e *Etcd) newClient(ctx context.Context) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            e.opts.Endpoints,
		DialTimeout:          e.opts.DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		TLS:                  e.opts.TLS,
		Username:             e.opts.Username,
		Password:             e.opts.Password,
		Logger:               zap.NewNop(),
		// etcd's --max-request-bytes is the limit that matters (deploy/
		// sets 10 MiB); the client's own default of 2 MiB would refuse
		// big transactions first, with a less helpful message.
		MaxCallSendMsgSize: 64 << 20,
		// Reconnect within a couple of seconds of etcd's return, not
		// after gRPC's default backoff of up to two minutes.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
		Context: context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, err
	}
	return cli, nil
}

// connectLater keeps trying to connect after a failed start, then starts
// following etcd.
func (e *Etcd) connectLater(ctx context.Context) {
	backoff := time.Second
	for {
		sleep(ctx, backoff)
		if ctx.Err() != nil {
			return
		}
		cli, err := e.newClient(ctx)
		if err != nil {
			reason := "etcd unreachable: " + e.explain(err)
			if isAuthError(err) {
				reason = fmt.Sprintf("etcd refuses the credentials of user %q: %v", e.opts.Username, err)
			}
			e.setStatus(false, reason)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		if ctx.Err() != nil {
			_ = cli.Close()
			return
		}
		e.cli.Store(cli)
		e.startLoops(ctx, false)
		return
	}
}

// startLoops starts following etcd (the watch, and full reads when
// needed) and probing it.
func (e *Etcd) startLoops(ctx context.Context, synced bool) {
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		e.follow(ctx, synced)
	}()
	go func() {
		defer e.wg.Done()
		e.probe(ctx)
	}()
}

// client returns the etcd client, nil before the first connection.
func (e *Etcd) client() *clientv3.Client { return e.cli.Load() }

// isAuthError reports whether etcd refused the credentials.
func isAuthError(err error) bool {
	return errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrGRPCAuthFailed) ||
		errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied)
}

// explain adds what a direct connection to the endpoints tells about an
// error that says only that time ran out: the gRPC client retries a
// refused connection or a failed TLS handshake until its deadline, and
// then reports the deadline alone.
func (e *Etcd) explain(err error) string {
	msg := err.Error()
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(msg, "deadline exceeded") {
		return msg
	}
	var causes []string
	for _, ep := range e.opts.Endpoints {
		if c := probeEndpoint(ep, e.opts.TLS); c != "" {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return msg
	}
	return msg + " (" + strings.Join(causes, "; ") + ")"
}

// Status returns the connection state.
func (e *Etcd) Status() EtcdStatus {
	e.statusMu.Lock()
	defer e.statusMu.Unlock()
	s := e.status
	s.EtcdRevision = e.applied.Load()
	s.Commits, s.Conflicts, s.Resyncs = e.commits.Load(), e.conflicts.Load(), max(e.syncs.Load()-1, 0)
	if rev, err := e.mirror.Revision(context.Background()); err == nil {
		s.Revision = rev
	}
	return s
}

func (e *Etcd) setStatus(ok bool, reason string) {
	e.statusMu.Lock()
	defer e.statusMu.Unlock()
	if e.status.Connected == ok && (ok || e.status.Reason == reason) {
		return
	}
	was := e.status.Connected
	e.status.Connected, e.status.Reason = ok, reason
	if was != ok {
		e.status.Since = time.Now()
		if ok {
			e.log.Info("etcd reachable again; writes accepted", "endpoints", e.opts.Endpoints)
		} else {
			e.log.Warn("etcd unreachable; answering from the last known state, refusing writes", "reason", reason)
		}
	}
}

// View runs fn over the local copy of the shared state.
func (e *Etcd) View(ctx context.Context, fn func(Tx) error) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return e.mirror.View(ctx, fn)
}

// Revision returns the revision of the local copy.
func (e *Etcd) Revision(ctx context.Context) (int64, error) {
	if e.closed.Load() {
		return 0, ErrClosed
	}
	return e.mirror.Revision(ctx)
}

// Watch reports the revisions the local copy reaches, from this node's
// writes and every other node's.
func (e *Etcd) Watch(ctx context.Context) <-chan int64 {
	return e.mirror.Watch(ctx)
}

// Close stops following etcd, closes the client and the local copy.
func (e *Etcd) Close() error {
	if e.closed.Swap(true) {
		return ErrClosed
	}
	e.cancel()
	var cerr error
	if cli := e.client(); cli != nil {
		cerr = cli.Close()
	}
	e.wg.Wait()
	merr := e.mirror.Close()
	if cerr != nil && !errors.Is(cerr, context.Canceled) {
		return fmt.Errorf("store: closing etcd client: %w", cerr)
	}
	return merr
}

// Keys under the prefix. Objects are KIND/NAME; the rest lives under
// meta/. Numbers are decimal, so etcdctl shows them as they are.
const (
	etcdMeta          = "meta/"
	etcdRevisionKey   = etcdMeta + "revision"
	etcdSchemaKey     = etcdMeta + "schema"
	etcdSeqPrefix     = etcdMeta + "seq/"        // + kind
	etcdLeasePrefix   = etcdMeta + "lease/"      // + checker: its votes' lease ID
	etcdKindRevPrefix = etcdMeta + kindRevPrefix // + kind: the last commit that wrote it
)

func (e *Etcd) key(kind model.Kind, name string) string {
	return e.prefix + string(kind) + "/" + name
}

// Update runs fn over the local copy and commits its writes to etcd in
// one transaction; see Etcd. fn runs again when another node committed
// first.
func (e *Etcd) Update(ctx context.Context, fn func(Tx) error) (int64, error) {
	if e.closed.Load() {
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s := e.Status(); !s.Connected || e.client() == nil {
		return 0, fmt.Errorf("%w: %s", ErrUnavailable, s.Reason)
	}
	for attempt := 1; ; attempt++ {
		tx, err := e.run(ctx, fn)
		if err != nil {
			return 0, err
		}
		if !tx.wrote() {
			return tx.rev - 1, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err // the caller gave up: do not commit behind its back
		}
		waitFor, err := e.commit(ctx, tx)
		if err == nil {
			e.commits.Add(1)
			e.waitApplied(ctx, waitFor)
			return tx.rev, nil
		}
		if !errors.Is(err, errRetry) {
			return 0, err
		}
		e.conflicts.Add(1)
		if attempt >= maxCommitAttempts {
			return 0, fmt.Errorf("store: etcd: %d commits in a row lost to other writers: %w", attempt, ErrConflict)
		}
		// Another writer was first: follow the mirror up to its commit
		// and run fn again on the new state. A mirror that does not get
		// there (its watch is stuck) would make every retry fail alike.
		if !e.waitApplied(ctx, waitFor) {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("%w: the local copy does not follow etcd (at etcd revision %d, another writer committed %d)",
				ErrUnavailable, e.applied.Load(), waitFor)
		}
	}
}

// errRetry marks a commit that lost the revision race.
var errRetry = errors.New("store: etcd: revision moved")

// run calls fn on a transaction over the mirror that buffers writes.
func (e *Etcd) run(ctx context.Context, fn func(Tx) error) (*etcdTx, error) {
	var tx *etcdTx
	err := e.mirror.View(ctx, func(base Tx) error {
		bt := base.(*boltTx)
		tx = &etcdTx{base: bt, rev: bt.rev + 1, writes: map[writeKey]*etcdWrite{}}
		if err := fn(tx); err != nil {
			return err
		}
		// The commit runs after this read transaction: note now which
		// lease the shared state names for each checker written.
		tx.leases = map[string]clientv3.LeaseID{}
		for _, w := range tx.writes {
			if c := leaseGroup(w); c != "" {
				tx.leases[c] = bt.mirrorLease(c)
			}
		}
		tx.base = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// commit sends tx's writes as one etcd transaction. It returns the etcd
// revision the mirror must reach to see the outcome: the commit's own, or
// on errRetry the other writer's.
func (e *Etcd) commit(ctx context.Context, tx *etcdTx) (int64, error) {
	cur := tx.rev - 1
	ops := make([]clientv3.Op, 0, len(tx.writes)+len(tx.seqs)+2)
	leases, err := e.voteLeases(ctx, tx)
	if err != nil {
		return 0, err
	}
	for _, w := range tx.sorted() {
		k := e.key(w.kind, w.name)
		switch {
		case w.del:
			ops = append(ops, clientv3.OpDelete(k))
		case w.kind == model.KindVote:
			ops = append(ops, clientv3.OpPut(k, string(w.value), clientv3.WithLease(leases[voteChecker(w.name)])))
		default:
			ops = append(ops, clientv3.OpPut(k, string(w.value)))
		}
	}
	for kind := range tx.kinds() {
		ops = append(ops, clientv3.OpPut(e.prefix+etcdKindRevPrefix+string(kind), strconv.FormatInt(cur+1, 10)))
	}
	for kind, n := range tx.seqs {
		ops = append(ops, clientv3.OpPut(e.prefix+etcdSeqPrefix+string(kind), strconv.FormatInt(n, 10)))
	}
	for checker, id := range leases {
		if tx.leases[checker] != id {
			ops = append(ops, clientv3.OpPut(e.prefix+etcdLeasePrefix+checker, strconv.FormatInt(int64(id), 10)))
		}
	}
	revKey := e.prefix + etcdRevisionKey
	ops = append(ops, clientv3.OpPut(revKey, strconv.FormatInt(cur+1, 10)))
	var cmp clientv3.Cmp
	if cur == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(revKey), "=", 0)
		ops = append(ops, clientv3.OpPut(e.prefix+etcdSchemaKey, strconv.Itoa(SchemaVersion)))
	} else {
		cmp = clientv3.Compare(clientv3.Value(revKey), "=", strconv.FormatInt(cur, 10))
	}
	rctx, cancel := context.WithTimeout(ctx, e.opts.RequestTimeout)
	defer cancel()
	resp, err := e.client().Txn(rctx).If(cmp).Then(ops...).Else(clientv3.OpGet(revKey)).Commit()
	if err != nil {
		return 0, e.mapErr(ctx, err, len(ops))
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	waitFor := resp.Header.Revision
	if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
		waitFor = rr.Kvs[0].ModRevision
	}
	return waitFor, errRetry
}

// mapErr turns an etcd error into the store's terms.
func (e *Etcd) mapErr(ctx context.Context, err error, ops int) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case e.closed.Load():
		return ErrClosed
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("store: etcd refused a transaction of %d operations: raise etcd's --max-txn-ops (deploy/ uses 10000): %w", ops, err)
	case errors.Is(err, rpctypes.ErrRequestTooLarge), strings.Contains(err.Error(), "larger than max"):
		return fmt.Errorf("store: etcd refused a transaction as too large: raise etcd's --max-request-bytes (deploy/ uses 10 MiB): %w", err)
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		// A vote lease expired between its renewal and the commit:
		// forget it, and try again with a new one.
		e.leaseMu.Lock()
		clear(e.leases)
		e.leaseMu.Unlock()
		return errRetry
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, rpctypes.ErrNoLeader),
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrGRPCNoLeader):
		e.setStatus(false, "etcd unreachable: "+err.Error())
		return fmt.Errorf("%w: etcd: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("store: etcd: %w", err)
}

// voteChecker is the checker a vote belongs to: its name is
// CHECKER|SERVICE|ENDPOINT (model.Vote.ObjectName).
func voteChecker(name string) string {
	c, _, _ := strings.Cut(name, "|")
	return c
}

// voteLeases returns the lease of every checker whose votes or record tx
// writes, renewing each at most every third of VoteTTL and granting a new
// one when there is none (or it expired). A checker's record is written
// with each of its reports, so its reports keep its votes alive.
func (e *Etcd) voteLeases(ctx context.Context, tx *etcdTx) (map[string]clientv3.LeaseID, error) {
	if len(tx.leases) == 0 {
		return nil, nil
	}
	voted := map[string]bool{}
	for k, w := range tx.writes {
		if k.kind == model.KindVote && !w.del {
			voted[voteChecker(k.name)] = true
		}
	}
	out := map[string]clientv3.LeaseID{}
	for c, known := range tx.leases {
		id, err := e.leaseFor(ctx, c, known, voted[c])
		if err != nil {
			return nil, err
		}
		if id != 0 {
			out[c] = id
		}
	}
	return out, nil
}

// leaseGroup is the checker whose lease a write renews: the checker of a
// vote, or the checker whose record it is; "" for other writes.
func leaseGroup(w *etcdWrite) string {
	switch {
	case w.del:
		return ""
	case w.kind == model.KindVote:
		return voteChecker(w.name)
	case w.kind == model.KindChecker:
		return w.name
	}
	return ""
}

// leaseFor renews (or, when grant, creates) checker's vote lease. known is
// the lease ID the shared state names, which another node may have
// granted.
func (e *Etcd) leaseFor(ctx context.Context, checker string, known clientv3.LeaseID, grant bool) (clientv3.LeaseID, error) {
	e.leaseMu.Lock()
	l, ok := e.leases[checker]
	e.leaseMu.Unlock()
	now := time.Now()
	if !ok && known != 0 {
		l, ok = voteLease{id: known}, true
	}
	if ok && now.Sub(l.renewed) < e.opts.VoteTTL/3 {
		return l.id, nil
	}
	rctx, cancel := context.WithTimeout(ctx, e.opts.RequestTimeout)
	defer cancel()
	if ok {
		_, err := e.client().KeepAliveOnce(rctx, l.id)
		switch {
		case err == nil:
			e.leaseMu.Lock()
			e.leases[checker] = voteLease{id: l.id, renewed: now}
			e.leaseMu.Unlock()
			return l.id, nil
		case !errors.Is(err, rpctypes.ErrLeaseNotFound):
			return 0, e.mapErr(ctx, err, 0)
		}
	}
	if !grant {
		return 0, nil
	}
	ttl := int64((e.opts.VoteTTL + time.Second - 1) / time.Second)
	resp, err := e.client().Grant(rctx, ttl)
	if err != nil {
		return 0, e.mapErr(ctx, err, 0)
	}
	e.leaseMu.Lock()
	e.leases[checker] = voteLease{id: resp.ID, renewed: now}
	e.leaseMu.Unlock()
	return resp.ID, nil
}

// waitApplied waits until the mirror reflects etcd revision rev, for at
// most the request timeout, and reports whether it got there. After this
// node's own commit a lagging mirror (etcd just went away) is no error:
// the commit happened, and the mirror catches up later.
func (e *Etcd) waitApplied(ctx context.Context, rev int64) bool {
	timer := time.NewTimer(e.opts.RequestTimeout)
	defer timer.Stop()
	for {
		e.appliedMu.Lock()
		ch := e.appliedCh
		e.appliedMu.Unlock()
		if e.applied.Load() >= rev {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-timer.C:
			e.log.Warn("the local copy lags behind etcd", "want", rev, "have", e.applied.Load())
			return false
		}
	}
}

// advanced records that the mirror reflects etcd revision rev and wakes
// the waiters.
func (e *Etcd) advanced(rev int64) {
	e.appliedMu.Lock()
	defer e.appliedMu.Unlock()
	if rev > e.applied.Load() {
		e.applied.Store(rev)
	}
	close(e.appliedCh)
	e.appliedCh = make(chan struct{})
}

// probe checks every ProbeInterval that etcd answers a linearizable read
// (which needs a quorum with a leader), and sets Status accordingly.
func (e *Etcd) probe(ctx context.Context) {
	t := time.NewTicker(e.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		timeout := min(e.opts.RequestTimeout, 2*time.Second)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := e.client().Get(pctx, e.prefix+etcdRevisionKey)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.setStatus(false, "etcd unreachable: "+e.explain(err))
			continue
		}
		if e.synced.Load() {
			e.setStatus(true, "")
		}
	}
}

// probeEndpoint connects to an etcd client URL directly, with the TLS
// configuration for https, and returns what went wrong, or "".
func probeEndpoint(endpoint string, tlsCfg *tls.Config) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint + ": " + err.Error()
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return endpoint + ": " + err.Error()
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return ""
	}
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	if tlsCfg != nil {
		cfg = tlsCfg.Clone()
		cfg.NextProtos = []string{"h2"}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(time.Second))
	if err := tc.Handshake(); err != nil {
		return endpoint + ": " + err.Error()
	}
	// TLS 1.3 servers refuse a client certificate after the handshake:
	// the refusal arrives as the first thing read.
	if _, err := tc.Read(make([]byte, 1)); err != nil && !isTimeout(err) && !errors.Is(err, io.EOF) {
		return endpoint + ": " + err.Error()
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
