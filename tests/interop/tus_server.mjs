// The tus reference server, @tus/server with @tus/file-store, for durl's interop tests.
//
//   node tus_server.mjs STORE_DIR [PORT [EXPIRE_MS]]
//
// Listens on 127.0.0.1, on PORT (to restart on the same address) or else on a port the
// system picks, and prints `listening PORT` on stdout once it accepts connections; the
// upload endpoint is /files/. Every upload's bytes are in STORE_DIR/<id> (its record in
// STORE_DIR/<id>.json). With EXPIRE_MS, an upload expires that long after its creation
// (tus expiration extension: Upload-Expires, then 410 Gone). Exits on SIGTERM, or when
// stdin closes, so that a test that dies cannot leave it running.
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const [directory, port = '0', expireMs = '0'] = process.argv.slice(2)
if (!directory) {
  console.error('usage: node tus_server.mjs STORE_DIR [PORT [EXPIRE_MS]]')
  process.exit(2)
}

const datastore = new FileStore({ directory, expirationPeriodInMilliseconds: Number(expireMs) })
const server = new Server({ path: '/files', datastore })
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
