import * as fs from 'node:fs'
import { Upload } from 'tus-js-client'
const endpoint = process.argv[2]
const run = (input, opts) => new Promise((resolve) => {
  const u = new Upload(input, { endpoint, retryDelays: null, ...opts, onError: (e) => resolve('ERR ' + String(e).slice(0, 300)), onSuccess: () => resolve('ok ' + u.url) })
  u.start()
})
fs.writeFileSync('/tmp/tsx/empty.bin', '')
console.log('empty', await run(fs.createReadStream('/tmp/tsx/empty.bin'), { metadata: { filename: 'empty.bin' } }))
console.log('nometa', await run(fs.createReadStream('/tmp/tsx/small.bin'), {}))
console.log('uppy-like', await run(fs.createReadStream('/tmp/tsx/small.bin'), { metadata: { relativePath: 'null', name: 'uppy.bin', type: 'application/octet-stream', filetype: 'application/octet-stream', filename: 'uppy.bin' } }))
console.log('empty value', await run(fs.createReadStream('/tmp/tsx/small.bin'), { metadata: { filename: 'ev.bin', note: '' } }))
console.log('buffer', await run(fs.readFileSync('/tmp/tsx/small.bin'), { metadata: { filename: 'buf.bin' }, chunkSize: 100000, uploadDataDuringCreation: true }))
