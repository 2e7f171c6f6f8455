// durl serve's upload page: a small tus 1.0.0 client in plain JavaScript, served by durl
// itself (no framework, no build step). Protocol: https://tus.io/protocols/resumable-upload
//
// Per file: POST creates the upload (Creation), PATCH sends it in 8 MiB chunks at the offset
// the server last confirmed (Core Protocol), each with Upload-Checksum sha256 when the page
// is a secure context (Checksum). Network errors, 5xx, 423 and the like are retried with
// back-off, asking HEAD for the offset first; after ATTEMPTS failures in a row the error and
// a Retry button are shown (none where retrying cannot help: 403, 404, 413). Files go into the
// directory the page shows (durl's `directory` metadata, checked by the server). A name
// that is taken (409) offers "Keep both" (the server picks a numbered name) and, where the
// server allows overwriting, "Replace". Each file shows its rate over the last seconds and
// the time left. The upload URL is kept in localStorage under a fingerprint of the
// file (endpoint, name, size, lastModified), so that after a reload or a crash, choosing the
// same file again continues at the server's offset instead of starting over.
'use strict';

(() => {
  const TUS_VERSION = '1.0.0';
  const CHUNK = 8 * 1024 * 1024; // bytes per PATCH
  const ATTEMPTS = 5; // failures in a row before giving up (the user may then retry)
  const FIRST_DELAY = 1000; // ms before the first retry; doubled after each failure
  const STALL = 30000; // ms without progress: the request counts as a network error
  const PARALLEL = 2; // files uploading at once; the others wait in line
  const PREFIX = 'durl-upload:'; // localStorage keys
  const RATE_WINDOW = 5000; // ms of progress the rate is measured over

  const area = document.getElementById('durl-upload');
  if (!area) return;
  const endpoint = new URL(area.dataset.endpoint, location.href).href;
  const directory = area.dataset.directory || '/'; // where files land (URL path)
  const overwrite = area.dataset.overwrite !== undefined; // the server may replace files
  const input = area.querySelector('input[type=file]');
  const list = area.querySelector('.durl-uploads');
  const uploads = new Map(); // fingerprint → Upload
  const waiting = [];
  let running = 0;
  let completed = false; // a file arrived since the listing was last refreshed

  class Retry extends Error {} // worth another attempt after a back-off
  // Shown as it is; the user decides (with a Retry button unless `retry` is false).
  class Fatal extends Error {
    constructor(message, retry = true) {
      super(message);
      this.retry = retry;
    }
  }
  class Conflict extends Error {} // the name is taken: keep both, or replace
  class Stop extends Error {} // the user paused

  const fingerprint = (file) =>
    PREFIX + JSON.stringify([endpoint, file.name, file.size, file.lastModified, directory]);

  // localStorage may be full or disabled: then an upload works but cannot outlive the page.
  function storage(op, ...args) {
    try {
      return localStorage[op](...args);
    } catch {
      return null;
    }
  }
  const recall = (key) => storage('getItem', key);
  const remember = (key, url) => storage('setItem', key, url);
  const forget = (key) => storage('removeItem', key);

  function base64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  // m:ss, or h:mm:ss.
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const two = (n) => String(n).padStart(2, '0');
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  }

  function size(n) {
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
  }

  // One tus request. Resolves with the answer, or {status: 0} on a network error or a stall;
  // rejects with Stop when the user pauses. `up.abort` cancels it meanwhile.
  function send(up, method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      let reason = 'network error';
      let timer = 0;
      const watch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => up.abort(`no progress for ${STALL / 1000} s`), STALL);
      };
      const finish = (result) => {
        clearTimeout(timer);
        up.abort = null;
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      xhr.open(method, url);
      // Core Protocol › Tus-Resumable: "MUST be included in every request" but OPTIONS.
      xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.onload = () =>
        finish({ status: xhr.status, text: `${xhr.status} ${xhr.statusText}`, get: (n) => xhr.getResponseHeader(n) });
      xhr.onerror = () => finish({ status: 0, text: reason });
      xhr.onabort = () => finish(reason === 'paused' ? new Stop() : { status: 0, text: reason });
      xhr.upload.onprogress = (e) => {
        watch();
        if (onProgress) onProgress(e.loaded);
      };
      up.abort = (why) => {
        reason = why;
        xhr.abort();
      };
      watch();
      xhr.send(body === undefined ? null : body);
    });
  }

  // The error for an answer that is not the expected one. Retried, as durl put does: network
  // errors, 5xx, 408, 409 (offset mismatch: HEAD tells the right one), 423 (another PATCH
  // on this upload is still running), 429 and 460 (the chunk's checksum did not match).
  function failure(what, res) {
    const s = res.status;
    const retry = s === 0 || s >= 500 || [408, 409, 423, 429, 460].includes(s);
    return new (retry ? Retry : Fatal)(`${what}: ${res.text}`);
  }

  class Upload {
    constructor(file) {
      this.file = file;
      this.key = fingerprint(file);
      this.url = recall(this.key);
      this.offset = 0; // bytes the server holds, as it last said
      this.sending = 0; // bytes of the current chunk sent so far
      this.synced = false; // whether `offset` is the server's word in this attempt
      this.paused = false;
      this.abort = null;
      this.conflict = 'refuse'; // until the user chooses: keep both, or replace
      this.samples = []; // [time in ms, bytes done] over the last RATE_WINDOW
      this.render();
    }

    render() {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'durl-name';
      name.textContent = this.file.name;
      this.bar = document.createElement('progress');
      this.bar.max = Math.max(this.file.size, 1);
      this.bar.value = 0;
      this.amount = document.createElement('span');
      this.amount.className = 'durl-amount';
      this.rate = document.createElement('span');
      this.rate.className = 'durl-rate';
      this.status = document.createElement('span');
      this.status.className = 'durl-status';
      this.status.setAttribute('role', 'status');
      this.button = document.createElement('button');
      this.button.type = 'button';
      this.button.className = 'durl-toggle';
      this.button.addEventListener('click', () => this.toggle());
      // On a name conflict: keep both (a numbered name), or replace where allowed.
      this.keep = document.createElement('button');
      this.keep.type = 'button';
      this.keep.className = 'durl-keep';
      this.keep.textContent = 'Keep both';
      this.keep.addEventListener('click', () => this.resolve('keep'));
      this.replace = document.createElement('button');
      this.replace.type = 'button';
      this.replace.className = 'durl-replace';
      this.replace.textContent = 'Replace';
      this.replace.addEventListener('click', () => this.resolve('replace'));
      li.append(name, this.bar, this.amount, this.rate, this.status, this.button, this.keep, this.replace);
      list.querySelector(`li[data-key="${CSS.escape(this.key)}"]`)?.remove();
      li.dataset.key = this.key;
      list.append(li);
      this.row = li;
      this.progress();
    }

    show(state, text) {
      this.row.dataset.state = state;
      this.status.textContent = text;
      const label = { uploading: 'Pause', retrying: 'Pause', paused: 'Resume', failed: 'Retry' }[state];
      this.button.hidden = !label;
      if (label) this.button.textContent = label;
      this.keep.hidden = state !== 'conflict';
      this.replace.hidden = state !== 'conflict' || !overwrite;
      if (state !== 'uploading') this.rate.textContent = '';
    }

    // The user's answer to a name conflict: create the upload again with it.
    resolve(choice) {
      if (this.row.dataset.state !== 'conflict') return;
      this.conflict = choice;
      schedule(this);
    }

    progress() {
      const done = Math.min(this.offset + this.sending, this.file.size);
      const total = this.file.size;
      this.bar.value = done;
      const percent = total ? Math.floor((done * 100) / total) : 100;
      this.amount.textContent = `${size(done)} of ${size(total)} (${percent}%)`;
      this.row.dataset.offset = String(this.offset);
      this.measure(done, total);
    }

    // The rate over the last RATE_WINDOW ms of progress, and the time left at that rate.
    measure(done, total) {
      const now = performance.now();
      const samples = this.samples;
      if (samples.length > 0 && done < samples[samples.length - 1][1]) samples.length = 0;
      samples.push([now, done]);
      while (samples.length > 2 && now - samples[1][0] >= RATE_WINDOW) samples.shift();
      const [then, before] = samples[0];
      const seconds = (now - then) / 1000;
      if (seconds < 0.5 || done <= before || done >= total) {
        if (done >= total) this.rate.textContent = '';
        return;
      }
      const rate = (done - before) / seconds;
      this.rate.dataset.rate = String(Math.round(rate));
      this.rate.textContent = `${size(Math.round(rate))}/s, ${duration((total - done) / rate)} left`;
    }

    toggle() {
      const state = this.row.dataset.state;
      if (state === 'uploading' || state === 'retrying') {
        this.paused = true;
        if (this.abort) this.abort('paused');
      } else if (state === 'paused' || state === 'failed') {
        schedule(this);
      }
    }

    async run() {
      this.paused = false;
      this.synced = false;
      this.samples = [];
      let failures = 0;
      this.show('uploading', this.url ? 'asking the server how much it has' : 'starting');
      for (;;) {
        try {
          if (this.paused) throw new Stop();
          if (!this.url) await this.create();
          else if (!this.synced) await this.head();
          if (this.offset >= this.file.size) return this.done();
          await this.patch();
          failures = 0;
        } catch (e) {
          this.sending = 0;
          this.progress();
          if (e instanceof Stop) return this.show('paused', 'paused');
          if (e instanceof Conflict) return this.show('conflict', e.message);
          if (e instanceof Fatal && !e.retry) return this.show('refused', e.message);
          if (!(e instanceof Retry)) return this.show('failed', e.message);
          this.synced = false;
          failures += 1;
          if (failures >= ATTEMPTS) {
            return this.show('failed', `${e.message}; gave up after ${ATTEMPTS} attempts`);
          }
          const delay = FIRST_DELAY * 2 ** (failures - 1);
          const next = `attempt ${failures + 1} of ${ATTEMPTS}`;
          this.show('retrying', `${e.message}; retrying in ${delay / 1000} s (${next})`);
          if (!(await this.wait(delay))) return this.show('paused', 'paused');
          this.show('uploading', 'asking the server how much it has');
        }
      }
    }

    // Resolves true after `ms`, or false at once if the user pauses.
    wait(ms) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.abort = null;
          resolve(true);
        }, ms);
        this.abort = () => {
          clearTimeout(timer);
          this.abort = null;
          resolve(false);
        };
      });
    }

    // Creation › POST: Upload-Length and Upload-Metadata (filename, base64 of its UTF-8),
    // with durl's keys: the directory and what to do if the name is taken.
    async create() {
      const b64 = (text) => base64(new TextEncoder().encode(text));
      const metadata = [`filename ${b64(this.file.name)}`];
      if (this.file.type) metadata.push(`filetype ${b64(this.file.type)}`);
      metadata.push(`directory ${b64(directory)}`, `onconflict ${b64(this.conflict)}`);
      const res = await send(this, 'POST', endpoint, {
        'Upload-Length': String(this.file.size),
        'Upload-Metadata': metadata.join(','),
      });
      if (res.status === 409) throw new Conflict(`a file named "${this.file.name}" is already here`);
      if (res.status === 403) throw new Fatal('the server does not allow this upload here', false);
      if (res.status === 404) throw new Fatal('this directory is no longer on the server', false);
      if (res.status === 413) throw new Fatal('the file is larger than this server accepts', false);
      if (res.status === 507) throw new Fatal('not enough space on the server');
      if (res.status !== 201) throw failure('creating the upload', res);
      const location = res.get('Location');
      if (!location) throw new Fatal('the server created the upload but sent no Location');
      // Creation › POST: "The Server MUST set the Location header"; it may be relative.
      this.url = new URL(location, endpoint).href;
      remember(this.key, this.url);
      this.offset = 0;
      this.synced = true;
    }

    // Core Protocol › HEAD: the offset to continue at. 404/410: the server no longer has the
    // upload (expired, terminated): forget it and start a new one.
    async head() {
      const res = await send(this, 'HEAD', this.url, {});
      const offset = Number(res.get ? res.get('Upload-Offset') : NaN);
      const length = res.get ? res.get('Upload-Length') : null;
      const gone = res.status === 404 || res.status === 410;
      if (!gone && res.status !== 200 && res.status !== 204) throw failure('asking for the offset', res);
      const fits = Number.isSafeInteger(offset) && offset <= this.file.size && Number(length) === this.file.size;
      if (gone || !fits) {
        forget(this.key);
        this.url = null;
        this.offset = 0;
        this.resumed = 'the server no longer had the earlier upload: started again';
        return this.create();
      }
      this.offset = offset;
      this.synced = true;
      if (this.row.dataset.resumed === undefined && offset > 0) {
        this.row.dataset.resumed = String(offset);
        this.resumed = `continued at ${size(offset)}, as the server had it`;
      }
      this.progress();
    }

    // Core Protocol › PATCH: one chunk at the confirmed offset; the new offset is the answer's.
    async patch() {
      const start = this.offset;
      const end = Math.min(start + CHUNK, this.file.size);
      let data;
      try {
        data = await this.file.slice(start, end).arrayBuffer();
      } catch (e) {
        throw new Fatal(`cannot read the file (${e.message}): was it changed or moved?`);
      }
      const headers = {
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': String(start),
      };
      // Checksum › Upload-Checksum: the server refuses the whole chunk (460) if it differs.
      // crypto.subtle exists in secure contexts only (https, or http on localhost).
      if (window.crypto && crypto.subtle) {
        const digest = await crypto.subtle.digest('SHA-256', data);
        headers['Upload-Checksum'] = `sha256 ${base64(new Uint8Array(digest))}`;
      }
      if (this.paused) throw new Stop();
      this.show('uploading', this.resumed || 'uploading');
      const res = await send(this, 'PATCH', this.url, headers, data, (sent) => {
        this.sending = sent;
        this.progress();
      });
      this.sending = 0;
      if (res.status === 404 || res.status === 410) {
        forget(this.key);
        this.url = null;
        throw new Retry('the server no longer has the upload');
      }
      if (res.status === 403) throw new Fatal('the server refused to place the file here', false);
      if (res.status === 507) throw new Fatal('not enough space on the server');
      if (res.status !== 204) throw failure('sending', res);
      const offset = Number(res.get('Upload-Offset'));
      if (!Number.isSafeInteger(offset) || offset < start || offset > this.file.size) {
        throw new Retry(`the server answered with an impossible offset (${res.get('Upload-Offset')})`);
      }
      this.offset = offset;
      this.progress();
    }

    done() {
      forget(this.key);
      this.finished = true;
      this.progress();
      this.show('done', this.resumed ? `complete (${this.resumed})` : 'complete');
    }
  }

  function schedule(up) {
    up.show('queued', 'waiting for another upload to finish');
    waiting.push(up);
    pump();
  }

  function pump() {
    while (running < PARALLEL && waiting.length > 0) {
      const up = waiting.shift();
      running += 1;
      up.run().finally(() => {
        running -= 1;
        pump();
        completed = completed || up.finished;
        if (completed && running === 0) {
          completed = false;
          refresh();
        }
      });
    }
  }

  // Shows the new files: the listing's table and count, fetched again, replace the old ones.
  async function refresh() {
    try {
      const res = await fetch(location.href, { cache: 'no-store' });
      if (!res.ok) return;
      const page = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const part of ['table', 'footer']) {
        const fresh = page.querySelector(part);
        const old = document.querySelector(part);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
    } catch {
      // The listing stays as it was; a reload shows the files.
    }
  }

  function add(files) {
    for (const file of files) {
      const key = fingerprint(file);
      const known = uploads.get(key);
      const state = known && known.row.dataset.state;
      const over = ['paused', 'failed', 'refused', 'done', 'conflict'];
      if (known && !over.includes(state)) continue;
      const up = new Upload(file);
      uploads.set(key, up);
      schedule(up);
    }
  }

  // Unfinished uploads from earlier visits: the browser may not reopen a file by itself, so
  // they are listed until the user chooses the file again.
  let keys = [];
  try {
    keys = Object.keys(localStorage).filter((key) => key.startsWith(PREFIX));
  } catch {
    // No storage: nothing to list.
  }
  for (const key of keys) {
    let fields;
    try {
      fields = JSON.parse(key.slice(PREFIX.length));
    } catch {
      continue;
    }
    if (!Array.isArray(fields) || fields[0] !== endpoint || fields[4] !== directory) continue;
    const li = document.createElement('li');
    li.dataset.key = key;
    li.dataset.state = 'unfinished';
    li.textContent = `${fields[1]} (${size(Number(fields[2]))}): unfinished, choose it again to continue`;
    list.append(li);
  }

  input.addEventListener('change', () => {
    add([...input.files]);
    input.value = ''; // so that choosing the same file again is a change too
  });
  // The whole page takes drops; the area lights up meanwhile.
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    area.classList.add('durl-over');
  });
  document.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) area.classList.remove('durl-over');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    area.classList.remove('durl-over');
    if (e.dataTransfer) add([...e.dataTransfer.files]);
  });
  area.hidden = false;
})();
