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
// Test hooks: GET /_stand-in/log lists the creations and PATCH requests this process received.
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
const MEDIA_ID_HEADER = 'x-stand-in-media-id';

const log = { creations: [], patches: [] };

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

function onPatch(req) {
  const count = log.patches.length + 1;
  if (crashOnPatch && count >= crashOnPatch) {
    // Killed halfway: drop the connection and die without reading the chunk.
    req.socket.destroy();
    process.exit(3);
  }
  log.patches.push({
    id: req.url.split('/').pop(),
    offset: Number(req.headers['upload-offset']),
    length: Number(req.headers['content-length']),
  });
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
  if (req.method === 'PATCH') onPatch(req);
  tus.handle(req, res);
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
