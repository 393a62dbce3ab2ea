// A real tus server (@tus/server + @tus/file-store, the tus project's reference Node.js server)
// behind a thin stand-in for Cloudflare Stream's upload endpoint, for tests/test_upload.py.
//
// Cloudflare's API cannot be reached from the tests, so this layer answers the way Stream does:
//   - tus Creation at POST /client/v4/accounts/<ACCOUNT_ID>/stream, uploads under that path;
//   - `Authorization: Bearer <TOKEN>` on every request, else 401 with Cloudflare's JSON error;
//   - the creation response carries `stream-media-id: <32 hex>`, the id of the upload.
// The tus protocol itself (offsets, HEAD, PATCH, metadata, storage) is @tus/server's.
//
// Environment: PORT (0 = any free port), DATA_DIR (uploads are files there, named by their id),
// ACCOUNT_ID, TOKEN, and for failure tests CRASH_ON_PATCH=N (the process dies when the Nth PATCH
// arrives, before reading it: an upload killed halfway) and FAIL_CREATE_STATUS=5xx (creation
// answers that status with Cloudflare's JSON error shape).
// HOLD_PATCH=N holds the Nth PATCH the way an edge that has taken a request's body but not yet
// handed it on does: the bytes it received (all of them, or what came before its client died)
// reach @tus/server HOLD_SECONDS (default 2) after it arrived, in HOLD_PIECES (default 1) PATCHes
// one HOLD_SECONDS apart; until then a HEAD answers the old offset. Another PATCH on that upload
// meanwhile goes on after the next piece, so @tus/server sees its stale offset and answers
// 409 Upload-Offset conflict: what a rerun meets when it follows a killed upload at once.
// Test hooks: GET /_stand-in/log lists the creations and PATCH requests this process received
// (a held PATCH with `held: true` and the bytes `received` so far).
// Prints "listening <port>" on stdout once it accepts connections.

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const env = process.env;
const accountId = env.ACCOUNT_ID ?? 'test-account';
const token = env.TOKEN ?? 'test-token';
const basePath = `/client/v4/accounts/${accountId}/stream`;
const crashOnPatch = Number(env.CRASH_ON_PATCH ?? 0);
const failCreateStatus = Number(env.FAIL_CREATE_STATUS ?? 0);
const holdPatch = Number(env.HOLD_PATCH ?? 0);
const holdMs = Number(env.HOLD_SECONDS ?? 2) * 1000;
const holdPieces = Number(env.HOLD_PIECES ?? 1);
const MEDIA_ID_HEADER = 'x-stand-in-media-id';

const log = { creations: [], patches: [] };
const holds = new Map(); // upload id -> the promise of the held PATCH's next piece

const tus = new Server({
  path: basePath,
  datastore: new FileStore({ directory: env.DATA_DIR ?? './uploads' }),
  // The front layer picks the Stream uid before handing the request over; the upload uses it.
  namingFunction: (req) => req.headers.get(MEDIA_ID_HEADER) ?? randomBytes(16).toString('hex'),
});

function cloudflareError(res, status, code, message) {
  const body = JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function onCreate(req, res) {
  if (failCreateStatus) {
    cloudflareError(res, failCreateStatus, 10002, 'An unknown error occurred');
    return false;
  }
  const uid = randomBytes(16).toString('hex');
  req.rawHeaders.push(MEDIA_ID_HEADER, uid); // what @tus/server's Request is built from
  res.setHeader('stream-media-id', uid);
  log.creations.push({
    uid,
    uploadLength: req.headers['upload-length'] ?? null,
    uploadMetadata: req.headers['upload-metadata'] ?? null,
  });
  return true;
}

function onPatch(req, res) {
  const count = log.patches.length + 1;
  if (crashOnPatch && count >= crashOnPatch) {
    // Killed halfway: drop the connection and die without reading the chunk.
    req.socket.destroy();
    process.exit(3);
  }
  const patch = {
    id: req.url.split('/').pop(),
    offset: Number(req.headers['upload-offset']),
    length: Number(req.headers['content-length']),
  };
  log.patches.push(patch);
  if (count === holdPatch) {
    hold(req, res, patch);
    return true;
  }
  const next = holds.get(patch.id);
  if (next) next.then(() => tus.handle(req, res));
  return Boolean(next);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function receive(req, patch) {
  patch.held = true;
  patch.received = 0;
  const chunks = [];
  req.on('data', (chunk) => {
    chunks.push(chunk);
    patch.received += chunk.length;
  });
  req.on('error', () => {}); // a client killed mid-chunk: keep what came
  return new Promise((resolve) => {
    const done = () => resolve(Buffer.concat(chunks));
    req.once('end', done);
    req.once('close', done);
  });
}

function commit(id, offset, bytes) {
  const headers = {
    'tus-resumable': '1.0.0',
    'upload-offset': String(offset),
    'content-type': 'application/offset+octet-stream',
    'content-length': String(bytes.length),
  };
  const url = `http://127.0.0.1${basePath}/${id}`;
  return tus.handleWeb(new Request(url, { method: 'PATCH', headers, body: bytes }));
}

async function hold(req, res, patch) {
  const body = receive(req, patch);
  let offset = patch.offset;
  let answer;
  for (let piece = 0; piece < holdPieces; piece++) {
    const due = sleep(holdMs);
    let resolve;
    holds.set(patch.id, new Promise((done) => (resolve = done)));
    const bytes = await body;
    const size = Math.ceil(bytes.length / holdPieces);
    await due;
    answer = await commit(patch.id, offset, bytes.subarray(piece * size, (piece + 1) * size));
    offset = Number(answer.headers.get('upload-offset') ?? offset);
    resolve();
  }
  holds.delete(patch.id);
  if (!res.destroyed) {
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(await answer.text());
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_stand-in/log') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(log));
    return;
  }
  if (req.headers.authorization !== `Bearer ${token}`) {
    cloudflareError(res, 401, 10000, 'Authentication error');
    return;
  }
  if (MEDIA_ID_HEADER in req.headers) {
    cloudflareError(res, 400, 10005, 'Bad request');
    return;
  }
  if (req.method === 'POST' && req.url === basePath && !onCreate(req, res)) return;
  if (req.method === 'PATCH' && onPatch(req, res)) return;
  tus.handle(req, res);
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
