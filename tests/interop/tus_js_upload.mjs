// tus-js-client (https://github.com/tus/tus-js-client) under Node uploading one file, for
// durl's interop tests.
//
//   node tus_js_upload.mjs ENDPOINT FILE --chunk-size N --store JSON
//                          [--filename NAME] [--pause-ms MS] [--with-creation]
//
// The upload URL is remembered in JSON by tus-js-client's own FileUrlStorage, under its Node
// fingerprint (path, size, mtime, endpoint); a second run after a kill finds it with
// findPreviousUploads(), continues it with resumeFromPreviousUpload() (HEAD for the offset),
// and sends only the rest. --with-creation sends the first chunk in the POST that creates
// the upload (uploadDataDuringCreation, the tus creation-with-upload extension).
//
// Prints on stdout, one line each:
//   previous N            how many earlier uploads of this file the storage holds
//   url URL               the upload's URL, once created or found again (HEAD answered)
//   start OFFSET          where the first chunk of this run began (0 for a new upload)
//   chunk SIZE ACCEPTED   after every chunk: its size and the server's offset after it
//   done SENT URL         the server holds the whole file; SENT bytes went out in this run
// --pause-ms waits before every PATCH so that a test can interrupt the upload mid-way.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { Upload, FileUrlStorage } from 'tus-js-client'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'chunk-size': { type: 'string' },
    store: { type: 'string' },
    filename: { type: 'string' },
    'pause-ms': { type: 'string', default: '0' },
    'with-creation': { type: 'boolean', default: false },
  },
})
const [endpoint, file] = positionals
if (!endpoint || !file || !values['chunk-size'] || !values.store) {
  console.error('usage: node tus_js_upload.mjs ENDPOINT FILE --chunk-size N --store JSON')
  process.exit(2)
}
const pauseMs = Number(values['pause-ms'])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let started = false
let sent = 0
const upload = new Upload(fs.createReadStream(file), {
  endpoint,
  chunkSize: Number(values['chunk-size']),
  metadata: { filename: values.filename ?? path.basename(file) },
  urlStorage: new FileUrlStorage(values.store),
  uploadDataDuringCreation: values['with-creation'],
  // A killed client's PATCH may still hold the upload for a moment (423), a restarting
  // server refuses connections: try again.
  retryDelays: [0, 200, 500, 1000, 2000, 3000, 5000],
  async onBeforeRequest(req) {
    if (pauseMs > 0 && req.getMethod() === 'PATCH') await sleep(pauseMs)
  },
  onUploadUrlAvailable() {
    console.log(`url ${upload.url}`)
  },
  onChunkComplete(size, accepted) {
    if (!started) {
      started = true
      console.log(`start ${accepted - size}`)
    }
    sent += size
    console.log(`chunk ${size} ${accepted}`)
  },
  onError(error) {
    console.error(`upload failed: ${error}`)
    process.exit(1)
  },
  onSuccess() {
    console.log(`done ${sent} ${upload.url}`)
  },
})

const previous = await upload.findPreviousUploads()
console.log(`previous ${previous.length}`)
if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0])
upload.start()
