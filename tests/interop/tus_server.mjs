// The tus reference server, @tus/server with @tus/file-store, for durl's interop tests.
//
//   node tus_server.mjs STORE_DIR [PORT]
//
// Listens on 127.0.0.1, on PORT (to restart on the same address) or else on a port the
// system picks, and prints `listening PORT` on stdout once it accepts connections; the
// upload endpoint is /files/. Every upload's bytes are in STORE_DIR/<id> (its record in
// STORE_DIR/<id>.json). Exits on SIGTERM, or when stdin closes, so that a test that dies
// cannot leave it running.
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const [directory, port = '0'] = process.argv.slice(2)
if (!directory) {
  console.error('usage: node tus_server.mjs STORE_DIR [PORT]')
  process.exit(2)
}

const server = new Server({ path: '/files', datastore: new FileStore({ directory }) })
const http = server.listen({ host: '127.0.0.1', port: Number(port) }, () => {
  console.log(`listening ${http.address().port}`)
})
const stop = () => {
  http.close()
  http.closeAllConnections()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
