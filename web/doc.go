// Package web will own the operator dashboard: static assets embedded in
// the binary (the embed package) and served by api, with no JavaScript
// build step needed to run.
package web
