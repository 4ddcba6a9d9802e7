#!/usr/bin/env node
// Independent ESME for conformance tests of smsflow's carrier simulator
// (tools/carrier-sim), built on node-smpp (npm `smpp`, MIT). It drives one session
// through the protocol and checks every answer:
//
//   node esme-client.js <port> [--system-id ID] [--password PW] [--timeout-ms N]
//
//   1. submit_sm before bind                  -> submit_sm_resp ESME_RINVBNDSTS (0x04)
//   2. bind_transceiver with a wrong password -> ESME_RINVPASWD (0x0E)
//   3. bind_transceiver (interface_version 0x50, node-smpp's default) -> ESME_ROK
//   4. enquire_link                           -> enquire_link_resp
//   5. an unknown command id (0x00000199, written raw: node-smpp cannot build one)
//                                             -> generic_nack ESME_RINVCMDID (0x03)
//   6. a single-part GSM-7 submit_sm, a 2-part UDH (05 00 03 ref 02 n) submit, a UCS-2
//      submit, all with registered_delivery 1 -> submit_sm_resp ESME_ROK with ids
//   7. one delivery receipt per segment: deliver_sm with esm_class 0x04, the
//      receipted_message_id (0x001E) TLV equal to the submit_sm_resp id, message_state
//      (0x0427) 2 and a text `id:<same id> ... stat:DELIVRD`; each answered deliver_sm_resp
//   8. unbind -> unbind_resp, then the MC closes the connection
//
// Output: one JSON line on stdout: {"ok":bool,"checks":[{"name","ok","detail"}],
// "message_ids":[...],"receipts":[...]}. Exit 0 when every check passed, 1 otherwise,
// 2 on usage errors. Logs on stderr; no phone number or message text is logged.

'use strict';

const smpp = require('smpp');

const DEST = '4915100000099';

function parseArgs(argv) {
  const args = argv.slice(2);
  if (args.length === 0 || args[0].startsWith('--')) {
    throw new Error('usage: esme-client.js <port> [--system-id ID] [--password PW] [--timeout-ms N]');
  }
  const opts = { port: Number(args[0]), systemId: 'smsflow', password: 'secret', timeoutMs: 20000 };
  for (let i = 1; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value === undefined) throw new Error(`missing value for ${args[i]}`);
    switch (args[i]) {
      case '--system-id': opts.systemId = value; break;
      case '--password': opts.password = value; break;
      case '--timeout-ms': opts.timeoutMs = Number(value); break;
      default: throw new Error(`unknown option ${args[i]}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port <= 0) throw new Error('bad port');
  return opts;
}

function log(msg) {
  process.stderr.write(`esme-client: ${msg}\n`);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv);
  } catch (e) {
    log(e.message);
    process.exit(2);
  }

  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok: !!ok, detail: detail === undefined ? null : detail });
    if (!ok) log(`check failed: ${name} ${JSON.stringify(detail)}`);
  };
  const messageIds = [];
  const receipts = [];
  let finished = false;
  let session;

  const finish = (code) => {
    if (finished) return;
    finished = true;
    const ok = code === 0 && checks.length > 0 && checks.every((c) => c.ok);
    process.stdout.write(JSON.stringify({ ok, checks, message_ids: messageIds, receipts }) + '\n');
    try { if (session) session.destroy(); } catch (_) { /* closing anyway */ }
    process.exit(ok ? 0 : 1);
  };
  const timer = setTimeout(() => {
    check('finished before timeout', false, `${opts.timeoutMs} ms`);
    finish(1);
  }, opts.timeoutMs);

  session = smpp.connect({ url: `smpp://127.0.0.1:${opts.port}`, auto_enquire_link_period: 0 });
  session.on('error', (e) => {
    check('no socket error', false, String(e && e.message));
    finish(1);
  });
  await new Promise((resolve) => session.once('connect', resolve));

  // every request resolves with its response pdu
  const request = (command, params) =>
    new Promise((resolve) => session[command](params || {}, resolve));

  // receipts: answer and record
  let receiptWaiter = null;
  session.on('deliver_sm', (pdu) => {
    session.send(pdu.response());
    const text = pdu.short_message && typeof pdu.short_message.message === 'string'
      ? pdu.short_message.message : '';
    const m = /id:(\S+).*stat:(\w+)/i.exec(text);
    receipts.push({
      esm_class: pdu.esm_class,
      receipted_message_id: pdu.receipted_message_id || null,
      message_state: pdu.message_state === undefined ? null : pdu.message_state,
      text_id: m ? m[1] : null,
      text_stat: m ? m[2] : null,
    });
    if (receiptWaiter) receiptWaiter();
  });

  const submitParams = (extra) => Object.assign({
    source_addr_ton: 5,
    source_addr_npi: 0,
    source_addr: 'SMSFLOW',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: DEST,
    registered_delivery: 1,
    data_coding: 0,
  }, extra);

  // 1. submit before bind
  let r = await request('submit_sm', submitParams({ short_message: 'before bind' }));
  check('submit before bind -> 0x04', r.command_status === 0x04, r.command_status);

  // 2. wrong password
  r = await request('bind_transceiver', { system_id: opts.systemId, password: 'wrong' });
  check('bad password -> 0x0E', r.command_status === 0x0E, r.command_status);

  // 3. bind
  r = await request('bind_transceiver', { system_id: opts.systemId, password: opts.password });
  check('bind_transceiver 0x50 -> ok', r.command_status === 0, r.command_status);
  check('bind_resp has system_id', typeof r.system_id === 'string' && r.system_id.length > 0, r.system_id);
  check('sc_interface_version 0x50', r.sc_interface_version === 0x50, r.sc_interface_version);

  // 4. enquire_link
  r = await request('enquire_link');
  check('enquire_link_resp', r.command === 'enquire_link_resp' && r.command_status === 0, r.command);

  // 5. unknown command, raw
  const nack = new Promise((resolve) => {
    session.on('generic_nack', (pdu) => { if (pdu.sequence_number === 0x7fff0001) resolve(pdu); });
  });
  const raw = Buffer.alloc(16);
  raw.writeUInt32BE(16, 0);
  raw.writeUInt32BE(0x00000199, 4);
  raw.writeUInt32BE(0, 8);
  raw.writeUInt32BE(0x7fff0001, 12);
  session.socket.write(raw);
  const n = await nack;
  check('unknown command -> generic_nack 0x03', n.command_status === 0x03, n.command_status);

  // 6. submits
  const expectSubmit = (name, resp) => {
    check(`${name} -> ok`, resp.command_status === 0, resp.command_status);
    check(`${name} has message_id`, typeof resp.message_id === 'string' && resp.message_id.length > 0, resp.message_id);
    if (resp.message_id) messageIds.push(resp.message_id);
  };
  expectSubmit('single-part submit', await request('submit_sm', submitParams({ short_message: 'conformance single part' })));
  const ref = 0x5a;
  for (const [seq, part] of [[1, 'conformance multipart one '], [2, 'conformance multipart two']]) {
    expectSubmit(`multipart part ${seq}`, await request('submit_sm', submitParams({
      short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 0x02, seq]), message: part },
    })));
  }
  expectSubmit('ucs2 submit', await request('submit_sm', submitParams({ data_coding: 8, short_message: 'Grüße 😀 conformance' })));

  // 7. receipts
  const expected = messageIds.length;
  if (receipts.length < expected) {
    await new Promise((resolve) => {
      receiptWaiter = () => { if (receipts.length >= expected) resolve(); };
    });
  }
  receiptWaiter = null;
  await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra would show up
  check('one receipt per segment', receipts.length === expected, { receipts: receipts.length, expected });
  for (const id of messageIds) {
    const rc = receipts.find((x) => x.receipted_message_id === id);
    check(`receipt for ${id}`, !!rc, id);
    if (!rc) continue;
    check(`receipt ${id} esm_class 0x04`, (rc.esm_class & 0x04) === 0x04, rc.esm_class);
    check(`receipt ${id} message_state 2`, rc.message_state === 2, rc.message_state);
    check(`receipt ${id} text id`, rc.text_id === id, rc.text_id);
    check(`receipt ${id} stat DELIVRD`, rc.text_stat === 'DELIVRD', rc.text_stat);
  }

  // 8. unbind and close
  const closed = new Promise((resolve) => session.once('close', resolve));
  r = await request('unbind');
  check('unbind_resp', r.command === 'unbind_resp' && r.command_status === 0, r.command);
  const closedInTime = await Promise.race([
    closed.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 2000)),
  ]);
  check('MC closes after unbind', closedInTime, null);
  clearTimeout(timer);
  finish(0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, checks: [{ name: 'no exception', ok: false, detail: String(e && e.stack) }] }) + '\n');
  process.exit(1);
});
