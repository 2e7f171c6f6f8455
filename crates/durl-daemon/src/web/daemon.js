// durl daemon web page: aria2 JSON-RPC over the daemon's own WebSocket. No inline script,
// no dependencies. The secret, if any, lives in sessionStorage only.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "durl-daemon-secret";
let ws = null;
let nextId = 1;
const pending = new Map();
let refreshTimer = null;
let anyActive = false;
const rows = new Map(); // gid -> <tr>

function token() {
  const s = sessionStorage.getItem(KEY);
  return s ? ["token:" + s] : [];
}

function call(method, params = []) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      reject(new Error("not connected"));
      return;
    }
    const id = String(nextId++);
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: token().concat(params) }));
  });
}

function multicall(calls) {
  return call("system.multicall", [calls.map(([methodName, params]) => ({
    methodName, params: token().concat(params || []),
  }))]).then((answers) => answers.map((a) => {
    if (Array.isArray(a)) return a[0];
    throw new Error(a.message);
  }));
}

function showError(e) {
  const p = $("error");
  if (!e) { p.hidden = true; return; }
  p.textContent = String(e.message || e);
  p.hidden = false;
}

function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/jsonrpc");
  ws.addEventListener("open", () => {
    $("conn").textContent = "connected";
    unlock();
  });
  ws.addEventListener("close", () => {
    $("conn").textContent = "disconnected, retrying…";
    for (const p of pending.values()) p.reject(new Error("disconnected"));
    pending.clear();
    setTimeout(connect, 2000);
  });
  ws.addEventListener("message", (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.method) { scheduleRefresh(); return; } // a notification
    const p = pending.get(String(msg.id));
    if (!p) return;
    pending.delete(String(msg.id));
    if (msg.error) p.reject(new Error(msg.error.message)); else p.resolve(msg.result);
  });
}

async function unlock() {
  try {
    const g = await call("aria2.getGlobalOption");
    $("login").hidden = true;
    $("app").hidden = false;
    $("jobs").value = g["max-concurrent-downloads"];
    $("limit").value = g["max-overall-download-limit"];
    refresh();
  } catch (e) {
    if (e.message === "Unauthorized") {
      sessionStorage.removeItem(KEY);
      $("app").hidden = true;
      $("login").hidden = false;
      $("secret").focus();
    } else {
      showError(e);
    }
  }
}

function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 100);
}

function size(n) {
  n = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function eta(d) {
  const left = Number(d.totalLength) - Number(d.completedLength);
  const speed = Number(d.downloadSpeed);
  if (d.status !== "active" || !speed || Number(d.totalLength) === 0) return "";
  let s = Math.ceil(left / speed);
  const h = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60); s %= 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}

function nameOf(d) {
  const f = d.files && d.files[0];
  if (f && f.path) return f.path.split("/").pop();
  const u = f && f.uris && f.uris[0] ? f.uris[0].uri : "";
  try { return decodeURIComponent(new URL(u).pathname.split("/").pop()) || u; } catch { return u; }
}

function button(action, label, gid) {
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.action = action;
  b.dataset.gid = gid;
  b.textContent = label;
  return b;
}

function render(list) {
  const body = $("rows");
  const seen = new Set();
  for (const d of list) {
    seen.add(d.gid);
    let tr = rows.get(d.gid);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.gid = d.gid;
      for (let i = 0; i < 8; i++) tr.appendChild(document.createElement("td"));
      tr.children[0].innerHTML = "";
      const name = document.createElement("div");
      name.className = "name";
      const path = document.createElement("div");
      path.className = "path";
      tr.children[0].append(name, path);
      tr.children[1].appendChild(document.createElement("progress"));
      for (const i of [2, 3, 4, 5]) tr.children[i].className = "num";
      tr.children[7].className = "actions";
      rows.set(d.gid, tr);
    }
    body.appendChild(tr); // keeps the order of `list`
    const total = Number(d.totalLength);
    const done = Number(d.completedLength);
    const c = tr.children;
    c[0].children[0].textContent = nameOf(d);
    const f = d.files && d.files[0];
    c[0].children[1].textContent = f && f.path ? f.path.slice(0, f.path.lastIndexOf("/") + 1) : d.dir + "/";
    const bar = c[1].firstChild;
    if (total > 0) { bar.max = total; bar.value = done; } else { bar.removeAttribute("value"); }
    c[2].textContent = total > 0 ? size(done) + " / " + size(total) : size(done);
    c[3].textContent = total > 0 ? Math.floor((done * 100) / total) + "%" : "";
    c[4].textContent = d.status === "active" ? size(d.downloadSpeed) + "/s" : "";
    c[5].textContent = eta(d);
    c[6].textContent = d.status + (d.errorMessage ? ": " + d.errorMessage : "");
    c[6].className = "state state-" + d.status;
    tr.dataset.status = d.status;
    const actions = [];
    if (d.status === "active" || d.status === "waiting") actions.push(button("pause", "Pause", d.gid));
    if (d.status === "paused") actions.push(button("resume", "Resume", d.gid));
    if (d.status === "error" || d.status === "removed") actions.push(button("retry", "Retry", d.gid));
    actions.push(button("remove", "Remove", d.gid));
    const key = actions.map((b) => b.dataset.action).join(",");
    if (c[7].dataset.key !== key) {
      c[7].replaceChildren(...actions);
      c[7].dataset.key = key;
    }
  }
  for (const [gid, tr] of rows) {
    if (!seen.has(gid)) { tr.remove(); rows.delete(gid); }
  }
}

async function refresh() {
  try {
    const [active, waiting, stopped, stat] = await multicall([
      ["aria2.tellActive", []],
      ["aria2.tellWaiting", [0, 1000]],
      ["aria2.tellStopped", [0, 1000]],
      ["aria2.getGlobalStat", []],
    ]);
    anyActive = active.length > 0;
    render(active.concat(waiting, stopped));
    $("stat").textContent = `${stat.numActive} active, ${stat.numWaiting} waiting, ${stat.numStopped} stopped, ${size(stat.downloadSpeed)}/s`;
  } catch (e) {
    if (e.message === "Unauthorized") unlock(); else showError(e);
  }
}

async function act(action, gid) {
  showError(null);
  try {
    if (action === "pause") await call("aria2.pause", [gid]);
    else if (action === "resume") await call("aria2.unpause", [gid]);
    else if (action === "remove") {
      const status = rows.get(gid) ? rows.get(gid).dataset.status : "";
      if (["complete", "error", "removed"].includes(status)) await call("aria2.removeDownloadResult", [gid]);
      else await call("aria2.remove", [gid]);
    } else if (action === "retry") {
      const [uris, options] = await multicall([["aria2.getUris", [gid]], ["aria2.getOption", [gid]]]);
      await call("aria2.addUri", [uris.map((u) => u.uri), options]);
      await call("aria2.removeDownloadResult", [gid]);
    }
  } catch (e) {
    showError(e);
  }
  refresh();
}

function start() {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("secret").value);
    $("secret").value = "";
    unlock();
  });
  $("add").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    const options = {};
    for (const k of ["out", "dir", "checksum"]) {
      const v = $(k).value.trim();
      if (v) options[k] = v;
    }
    options.split = String($("split").value || "1");
    const lines = $("uris").value.split("\n").map((l) => l.trim()).filter(Boolean);
    try {
      await multicall(lines.map((l) => ["aria2.addUri", [l.split(/\s+/), options]]));
      $("uris").value = "";
    } catch (e) {
      showError(e);
    }
    refresh();
  });
  $("global").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    try {
      await call("aria2.changeGlobalOption", [{
        "max-overall-download-limit": $("limit").value.trim() || "0",
        "max-concurrent-downloads": String($("jobs").value),
      }]);
    } catch (e) {
      showError(e);
    }
    refresh();
  });
  $("rows").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b.dataset.action, b.dataset.gid);
  });
  // Progress of running downloads: one call a second while any runs; notifications
  // (start, pause, stop, complete, error) refresh at once.
  setInterval(() => { if (anyActive) refresh(); }, 1000);
  connect();
}

start();
