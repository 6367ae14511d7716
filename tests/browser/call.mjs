// Two pages of Debian's Chromium call each other through `apps-api proxy --static` in front of
// the fake's SFU: each publishes its fake camera and microphone and pulls the other's, and a
// data channel message crosses. Prints what each page's getStats() shows, as JSON, and saves a
// screenshot of the receiving page.
//
//   node call.mjs http://127.0.0.1:PORT/ screenshot.png
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
];
const userDataDir = mkdtempSync(join(tmpdir(), "apps-api-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath, args: flags, headless: true, viewport: { width: 800, height: 600 },
});
const fail = async (why) => {
  console.log(JSON.stringify({ error: why }));
  await context.close();
  process.exit(1);
};
const pages = [await context.newPage(), await context.newPage()];
const logs = [[], []];
pages.forEach((page, i) => page.on("console", (m) => logs[i].push(m.text())));
for (const page of pages) {
  await page.goto(url);
}
for (const [i, page] of pages.entries()) {
  try {
    await page.waitForFunction(() => window.call && (window.call.ready || window.call.error), null, { timeout: 30000 });
  } catch (e) {
    await fail(`page ${i} never got ready: ${logs[i].join(" | ")}`);
  }
  const error = await page.evaluate(() => window.call.error);
  if (error) await fail(`page ${i}: ${error}`);
}
const peers = await Promise.all(pages.map((p) => p.evaluate(() => ({ sessionId: window.call.sessionId, tracks: window.call.tracks }))));
const started = Date.now();
await pages[0].evaluate((peer) => window.call.pull(peer), peers[1]);
await pages[1].evaluate((peer) => window.call.pull(peer), peers[0]);

const inbound = (page) => page.evaluate(async () => {
  const found = { audioBytes: 0, videoBytes: 0, framesDecoded: 0 };
  (await window.pc.getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp") return;
    if (r.kind === "audio") found.audioBytes += r.bytesReceived || 0;
    else { found.videoBytes += r.bytesReceived || 0; found.framesDecoded += r.framesDecoded || 0; }
  });
  return found;
});
let stats = [];
let mediaMs = null;
while (Date.now() - started < 20000) {
  stats = await Promise.all(pages.map(inbound));
  if (stats.every((s) => s.audioBytes > 0 && s.videoBytes > 0 && s.framesDecoded > 0)) {
    mediaMs = Date.now() - started;
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
// Let a few more frames through for the figures and the screenshot.
await new Promise((r) => setTimeout(r, 1500));
stats = await Promise.all(pages.map(inbound));
let messageMs = null;
const messageStarted = Date.now();
while (Date.now() - messageStarted < 10000) {
  await pages[0].evaluate(() => window.call.say("hello from the first tab"));
  const got = await pages[1].evaluate(() => window.call.messages);
  if (got.includes("hello from the first tab")) {
    messageMs = Date.now() - messageStarted;
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}
await pages[1].screenshot({ path: screenshot });
console.log(JSON.stringify({ mediaMs, messageMs, stats, logs: logs.map((l) => l.slice(-8)) }));
await context.close();
