// Package web owns the operator dashboard: a single page of plain HTML,
// CSS and JavaScript modules (ui/) and the browser libraries it uses
// (vendor/: d3-geo, d3-array, topojson-client and the world-atlas
// TopoJSON, fetched from the npm registry by `make web-vendor`), embedded
// in the binary with the embed package. Handler serves them; there is no
// JavaScript build step, and the page loads nothing from outside the
// server it came from.
//
// The page talks to the REST API under /api/v1/ with the operator's
// bearer token, like any other client: web holds no state and imports
// only the standard library. cmd mounts Handler at / and /ui/ beside the
// API.
package web
