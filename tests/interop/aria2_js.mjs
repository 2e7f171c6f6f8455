// Drives `durl daemon` over WebSocket with the `aria2` npm package (aria2.js), a JSON-RPC
// client nobody here wrote:
//   node aria2_js.mjs PORT SECRET FAST_URL SLOW_URL
// Prints `ok STEP ...` lines; crates/durl/tests/it/interop/aria2_js.rs compares the files.
import Aria2 from "aria2";

const [port, secret, fast, slow] = process.argv.slice(2);
const aria2 = new Aria2({ host: "127.0.0.1", port: Number(port), secure: false, secret, path: "/jsonrpc" });

const events = [];
for (const n of ["onDownloadStart", "onDownloadPause", "onDownloadStop", "onDownloadComplete", "onDownloadError"]) {
  aria2.on(n, ([{ gid }]) => events.push(`${n} ${gid}`));
}

function fail(msg) {
  console.error(msg);
  process.exit(1);
}

async function waitFor(what, check, secs = 60) {
  const deadline = Date.now() + secs * 1000;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`timed out waiting for ${what}`);
}

const status = async (gid) => (await aria2.call("tellStatus", gid, ["status"])).status;

await aria2.open(); // every call below goes over the WebSocket
const notifications = await aria2.listNotifications();
for (const n of ["onDownloadStart", "onDownloadPause", "onDownloadStop", "onDownloadComplete", "onDownloadError"]) {
  if (!notifications.includes(n)) fail(`listNotifications lacks ${n}: ${notifications}`);
}
const methods = await aria2.listMethods();
if (!methods.includes("addUri") || !methods.includes("system.multicall")) fail(`listMethods: ${methods}`);
console.log("ok lists");

await aria2.call("changeGlobalOption", { "max-concurrent-downloads": "2", "max-overall-download-limit": "0" });
const g = await aria2.call("getGlobalOption");
if (g["max-concurrent-downloads"] !== "2") fail(JSON.stringify(g));
console.log("ok global-options");

const one = await aria2.call("addUri", [fast], { out: "js-one.bin" });
await waitFor("js-one complete", async () => (await status(one)) === "complete");
// aria2.js hands back system.multicall's answers as they are: [result] per call.
const [[files]] = await aria2.multicall([["getFiles", one]]);
console.log("ok complete", one, files[0].path);

const two = await aria2.call("addUri", [slow], { out: "js-two.bin" });
await waitFor("js-two active", async () => (await status(two)) === "active");
await aria2.call("pause", two);
if ((await status(two)) !== "paused") fail("not paused");
await aria2.call("unpause", two);
await waitFor("js-two complete", async () => (await status(two)) === "complete", 120);
console.log("ok paused-resumed-complete", two);

const three = await aria2.call("addUri", [slow], { out: "js-three.bin", pause: "true" });
const [[removed], [stat]] = await aria2.multicall([["remove", three], ["getGlobalStat"]]);
if (removed !== three || stat.numStopped !== "3") fail(JSON.stringify([removed, stat]));
if ((await status(three)) !== "removed") fail("not removed");
console.log("ok multicall-remove", three);

// A JSON-RPC batch: one promise per call.
const [a, b] = await aria2.batch([["tellStatus", one, ["gid"]], ["tellStatus", "0000000000000000"]]);
if ((await a).gid !== one) fail("batch");
const err = await b.then(() => null, (e) => e);
if (!err || !/not found/.test(err.message)) fail(`batch error: ${err}`);
console.log("ok batch");

await waitFor("notifications", () => [
  `onDownloadStart ${one}`, `onDownloadComplete ${one}`, `onDownloadPause ${two}`,
  `onDownloadComplete ${two}`, `onDownloadStop ${three}`,
].every((e) => events.includes(e)), 10);
console.log("ok notifications");
await aria2.close();
console.log("done");
