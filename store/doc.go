// Package store owns Meridian's durable state: persistence of the model
// types (store/model) behind the small Store interface, revisions, change
// notification, the event log, and reconciling a desired state from a
// source such as a state file.
//
// The default backend is Bolt, one bbolt file in the data directory
// (OpenBolt). Every backend passes the contract suite in store/storetest.
// Reconcile, AppendEvent, ListEvents and PruneEvents (with the Pruner
// that runs it periodically) work on any backend through the Store and
// Tx interfaces.
//
// Store knows nothing of DNS wire format or HTTP. Of Meridian it imports
// only store/model; dnsserver and checker must not import it (they use
// store/model), and api reaches the database only through it.
package store
