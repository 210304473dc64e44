// Package api serves naivechain's HTTP API, with exactly the shapes of
// PyNaive Chain's Flask API (GET/POST /data, GET /node, GET/POST /peers)
// plus paginated reads (GET /blocks) and a stream of chain events (GET
// /events, Server-Sent Events).
//
// Every answer is JSON: {"status": "OK", "data": ...} on success and
// {"status": "ERROR", "error": "..."} (with "data": false for a refused
// write) on failure, including unknown routes and wrong methods. The one
// exception is GET /metrics, served by the handler the node gives
// (Options.Metrics) in Prometheus's text format.
//
// The package talks to the node only through the Backend interface it
// declares. It must never hold the whole chain in memory (GET /data
// streams), never propose anything for a request it rejected, never hide a
// failure behind a valid-looking body, never let a slow client hold up the
// chain (a lagging event stream is closed), and never import the node or
// the network packages; of package chain it uses only the event
// subscription.
package api
