// Package explorer is the block explorer page every node serves at GET /:
// an HTML page, its script, style sheet and icon, embedded in the binary so
// that the page works offline, with no CDN, font or script from elsewhere.
//
// The page reads and writes the chain through the node's own HTTP API
// (GET /blocks, /blocks/{index}, /status, /node, /peers, /events, /entries/{id}
// and POST /data), as any client would; this package adds no server-side
// logic beyond serving its files. It must never import the node or the API:
// the API mounts Handler for GET / and the paths under AssetPrefix.
package explorer
