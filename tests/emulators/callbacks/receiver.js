// A municipal service's callback endpoint, for crieur's tests. Every POST is verified with the
// Standard Webhooks reference library (npm standardwebhooks), not with crieur's code: a request
// whose signature or timestamp does not hold is answered 401 and counted as invalid.
//
//   node receiver.js PORT SECRET [SECRET...]   (any one of the secrets may sign)
//
// GET /stats answers what came: requests, valid, invalid, unique webhook-ids, duplicates (the
// same webhook-id again after a 2xx), out_of_order (a message's callback whose webhook-id is
// lower than one already taken for that message), per message id the statuses in order, and
// `others`: the callbacks that are no message's status (reply.received, journey.notice), whole.
// POST /control {"fail": N, "status": 503, "retry_after": "1"} answers the next N callbacks with
// that status (no body verification), to test retries; {"refuse": N} answers them 400; {"gone":
// true} answers 410 from then on; {"clock_offset_ms": N} moves its clock by N ms.
"use strict";
const http = require("http");
const { Webhook } = require("standardwebhooks");

// A test that moves crieurd's clock (CRIEUR_TEST_CLOCK_FILE) moves this one with it
// ({"clock_offset_ms": N}), so that the webhook-timestamp is checked against the same "now".
const realNow = Date.now;
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

const port = Number(process.argv[2]);
const verifiers = process.argv.slice(3).map((s) => new Webhook(s));
if (!port || verifiers.length === 0) {
  console.error("usage: receiver.js PORT SECRET [SECRET...]");
  process.exit(2);
}

const stats = { requests: 0, valid: 0, invalid: 0, unique: 0, duplicates: 0, out_of_order: 0, failed_on_purpose: 0,
                signatures: {}, messages: {}, others: [] };
const seen = new Set();
const lastRow = new Map();  // message id -> the highest webhook-id row taken
let fail = 0, failStatus = 503, retryAfter = null, refuse = 0, gone = false;

function rowOf(id) {
  const m = /_(\d+)$/.exec(id);
  return m ? Number(m[1]) : -1;
}

function verify(body, headers) {
  for (const v of verifiers) {
    try {
      return v.verify(body, headers);
    } catch (e) {
      // the next secret may be the one
    }
  }
  return null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.method === "GET" && req.url === "/stats") {
      const text = JSON.stringify(stats);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (req.method === "POST" && req.url === "/control") {
      const c = JSON.parse(body || "{}");
      if (c.fail !== undefined) { fail = c.fail; failStatus = c.status || 503; retryAfter = c.retry_after || null; }
      if (c.refuse !== undefined) refuse = c.refuse;
      if (c.gone !== undefined) gone = c.gone;
      if (c.clock_offset_ms !== undefined) clockOffsetMs = c.clock_offset_ms;
      res.writeHead(204);
      res.end();
      return;
    }
    stats.requests++;
    if (gone) { res.writeHead(410); res.end(); return; }
    if (fail > 0) {
      fail--;
      stats.failed_on_purpose++;
      res.writeHead(failStatus, retryAfter ? { "retry-after": retryAfter } : {});
      res.end("failing on purpose");
      return;
    }
    const payload = verify(body, req.headers);
    if (payload === null) {
      stats.invalid++;
      res.writeHead(401);
      res.end("bad signature");
      return;
    }
    if (refuse > 0) {
      refuse--;
      stats.failed_on_purpose++;
      res.writeHead(400);
      res.end("refused on purpose");
      return;
    }
    stats.valid++;
    const n = req.headers["webhook-signature"].split(" ").length;
    stats.signatures[n] = (stats.signatures[n] || 0) + 1;
    const id = req.headers["webhook-id"];
    if (seen.has(id)) {
      stats.duplicates++;
    } else {
      seen.add(id);
      stats.unique++;
      const message = payload.data && payload.data.id;
      const row = rowOf(id);
      if (lastRow.has(message) && lastRow.get(message) > row) stats.out_of_order++;
      lastRow.set(message, Math.max(row, lastRow.get(message) || -1));
      if (payload.data && payload.data.status !== undefined)
        (stats.messages[message] = stats.messages[message] || []).push(payload.data.status);
      else  // a reply or a journey's notice: kept whole, in the order they came
        stats.others.push({ type: payload.type, data: payload.data });
    }
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, "127.0.0.1", () => console.log(`callback receiver on 127.0.0.1:${port}`));
