// push-emulator: a Web Push service stand-in (RFC 8030) for crieur's tests. It checks what crieur
// sends with implementations independent of crieur's: the VAPID JWT (RFC 8292) with `jose`, the
// aes128gcm payload (RFC 8291) with `http_ece` (by the RFCs' author). A passing test means a real
// browser could read the message.
//   GET  /emulator/subscribe?id=ID  → a subscription {endpoint, keys: {p256dh, auth}} for ID
//   POST /push/ID                   → 201 + Location; 400 without TTL or aes128gcm; 401/403 on a bad
//                                     VAPID; ID "gone" → 410, "expired" → 404, "busy" → 429
//   GET  /emulator/received         → what was decrypted, with its headers
//   node push_emulator.js PORT
'use strict';
const http = require('http');
const crypto = require('crypto');
const ece = require('http_ece');
const jose = require('jose');

const port = Number(process.argv[2] || 0);
const subscriptions = new Map();  // id → {ecdh, auth}
const received = [];

function b64url(buf) { return Buffer.from(buf).toString('base64url'); }

async function checkVapid(header, origin) {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header || '');
  if (!m) return { status: 401, why: 'no VAPID authorization' };
  const raw = Buffer.from(m[2], 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) return { status: 401, why: 'k is not a P-256 point' };
  const key = await jose.importJWK({ kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(1, 33)), y: b64url(raw.subarray(33)) }, 'ES256');
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(m[1], key, { audience: origin, algorithms: ['ES256'] });
    if (protectedHeader.typ !== 'JWT') return { status: 403, why: 'typ is not JWT' };
    const now = Math.floor(Date.now() / 1000);
    if (!payload.exp || payload.exp > now + 24 * 3600) return { status: 403, why: 'exp missing or over 24 h' };
    if (!/^(mailto:|https:)/.test(payload.sub || '')) return { status: 403, why: 'sub is not mailto: or https:' };
    return { status: 0, claims: payload };
  } catch (e) {
    return { status: 403, why: 'bad VAPID JWT: ' + e.message };
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const reply = (status, body, headers = {}) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    if (req.method === 'GET' && url.pathname === '/emulator/subscribe') {
      const id = url.searchParams.get('id');
      const ecdh = crypto.createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = crypto.randomBytes(16);
      subscriptions.set(id, { ecdh, auth });
      return reply(200, { endpoint: `http://127.0.0.1:${server.address().port}/push/${id}`,
                          keys: { p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth) } });
    }
    if (req.method === 'GET' && url.pathname === '/emulator/received') return reply(200, received);
    const m = /^\/push\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return reply(404, { error: 'not found' });
    const id = m[1];
    if (id === 'gone') return reply(410, { code: 410, errno: 106, error: 'Gone', message: 'push subscription has unsubscribed or expired.' });
    if (id === 'expired') return reply(404, { code: 404, errno: 102, error: 'Not Found' });
    if (id === 'busy') return reply(429, { code: 429, error: 'Too Many Requests' }, { 'Retry-After': '1' });
    if (req.headers.ttl === undefined || !/^[0-9]+$/.test(req.headers.ttl)) return reply(400, { errno: 111, error: 'Missing TTL header' });
    if (req.headers['content-encoding'] !== 'aes128gcm') return reply(400, { errno: 110, error: 'Invalid Content-Encoding' });
    const sub = subscriptions.get(id);
    if (!sub) return reply(404, { errno: 102, error: 'Unknown subscription' });
    const vapid = await checkVapid(req.headers.authorization, `http://127.0.0.1:${server.address().port}`);
    if (vapid.status) return reply(vapid.status, { error: vapid.why });
    const body = Buffer.concat(chunks);
    if (body.length > 4096) return reply(413, { errno: 104, error: 'Payload too large' });
    let plaintext;
    try {
      plaintext = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: b64url(sub.auth) }).toString('utf8');
    } catch (e) {
      return reply(400, { errno: 110, error: 'cannot decrypt: ' + e.message });
    }
    received.push({ id, payload: plaintext, ttl: req.headers.ttl, urgency: req.headers.urgency || null,
                    topic: req.headers.topic || null, sub: vapid.claims.sub, aud: vapid.claims.aud });
    reply(201, undefined, { Location: `http://127.0.0.1:${server.address().port}/message/${crypto.randomUUID()}` });
  });
});

server.listen(port, '127.0.0.1', () => console.log(`push-emulator listening on 127.0.0.1:${server.address().port}`));
