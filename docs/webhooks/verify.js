// Verify an smsflow webhook call (Node.js, no dependencies).
//
//   const { verifySmsflowSignature } = require("./verify");
//   // with express: app.post("/hook", express.raw({ type: "*/*" }), (req, res) => ...)
//   const ok = verifySmsflowSignature(req.get("X-Smsflow-Signature"), req.body, "whsec_...");
//
// Pass the body exactly as received (a Buffer), before any JSON parsing.
"use strict";
const crypto = require("crypto");

function verifySmsflowSignature(header, body, secret, tolerance = 300, now = Date.now() / 1000) {
  const items = header.split(",").filter((p) => p.includes("=")).map((p) => {
    const i = p.indexOf("=");
    return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
  });
  const stamps = items.filter(([k]) => k === "t").map(([, v]) => v);
  if (stamps.length !== 1 || !/^-?\d+$/.test(stamps[0])) return false;
  const t = Number(stamps[0]);
  const expected = crypto.createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)]))
    .digest();
  const matches = items.filter(([k]) => k === "v1").some(([, v]) => {
    const given = Buffer.from(v, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  return matches && Math.abs(now - t) <= tolerance;
}

module.exports = { verifySmsflowSignature };

if (require.main === module) {
  // Used by crates/smsflow-webhooks/tests/snippets.rs: header, secret and now in the
  // environment, the body on stdin; exit 0 when the call verifies.
  const body = require("fs").readFileSync(0);
  const { SIGNATURE, SECRET, NOW } = process.env;
  process.exit(verifySmsflowSignature(SIGNATURE, body, SECRET, 300, Number(NOW)) ? 0 : 1);
}
