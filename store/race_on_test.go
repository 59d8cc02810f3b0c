//go:build race

package store_test

// raceEnabled: the race detector slows the crash test's child about
// fivefold, so the test scales its states down to keep its runtime.
const raceEnabled = true
