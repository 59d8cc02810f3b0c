// Package web will own the operator dashboard: static assets embedded with
// go:embed and served by api, with no JavaScript build step needed to run.
package web
