#!/usr/bin/env node
// Independent SMSC for conformance tests of smsflow's SMPP client (crates/smsflow-smpp),
// built on node-smpp (npm `smpp`, MIT). It is deliberately small and scriptable:
//
//   node smsc.js <port> [--throttle-every N] [--drop-after N] [--id-format hex|decimal]
//                       [--system-id ID] [--password PW]
//
//   <port>            TCP port on 127.0.0.1; 0 picks a free one.
//   --throttle-every  answer every N-th submit_sm (counting all received) with
//                     ESME_RTHROTTLED (0x58, no body); 0 = never (default).
//   --drop-after      once, close the connection without answering when the N-th
//                     submit_sm arrives; 0 = never (default).
//   --id-format       message_id format in submit_sm_resp and in the receipted_message_id
//                     TLV; the receipt text always carries the id in decimal, which is the
//                     classic hex/decimal mismatch. Default hex.
//   --system-id/--password  credentials to accept (default smsflow / secret).
//
// It answers bind_transceiver/transmitter/receiver, enquire_link, unbind and submit_sm
// (with a message id); when registered_delivery asks for a receipt it sends a deliver_sm
// with esm_class 0x04, the receipted_message_id (0x001E) and message_state (0x0427) TLVs
// and the classic receipt text. Unknown commands get generic_nack ESME_RINVCMDID.
//
// Output on stdout, one line each:
//   LISTENING <port>           once listening
//   SUMMARY <json>             on the line "summary" on stdin, and on exit (SIGTERM,
//                              SIGINT, stdin closed)
// Logs go to stderr. Never logs phone numbers or message text.

'use strict';

const smpp = require('smpp');

function parseArgs(argv) {
  const opts = {
    port: 2775,
    throttleEvery: 0,
    dropAfter: 0,
    idFormat: 'hex',
    systemId: 'smsflow',
    password: 'secret',
  };
  const args = argv.slice(2);
  if (args.length === 0 || args[0].startsWith('--')) {
    throw new Error('usage: smsc.js <port> [--throttle-every N] [--drop-after N] [--id-format hex|decimal]');
  }
  opts.port = Number(args[0]);
  for (let i = 1; i < args.length; i += 2) {
    const key = args[i];
    const value = args[i + 1];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    switch (key) {
      case '--throttle-every': opts.throttleEvery = Number(value); break;
      case '--drop-after': opts.dropAfter = Number(value); break;
      case '--id-format':
        if (value !== 'hex' && value !== 'decimal') throw new Error('--id-format must be hex or decimal');
        opts.idFormat = value;
        break;
      case '--system-id': opts.systemId = value; break;
      case '--password': opts.password = value; break;
      default: throw new Error(`unknown option ${key}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad port');
  return opts;
}

const opts = parseArgs(process.argv);

const summary = {
  connections: 0,
  binds: { bind_transceiver: 0, bind_transmitter: 0, bind_receiver: 0 },
  bind_failures: 0,
  interface_versions: [],
  submits_received: 0,
  accepted: 0,
  throttled: 0,
  dropped_links: 0,
  unanswered_submits: 0,
  enquire_links: 0,
  unbinds: 0,
  generic_nacks_sent: 0,
  receipts_sent: 0,
  receipts_acked: 0,
  receipt_ack_statuses: {},
  unique_segments: 0,
  duplicate_segments: 0,
  segments: [],
};

const segmentCounts = new Map();
let nextId = 0x10000;
let dropped = false;

function log(msg) {
  process.stderr.write(`[node-smsc] ${msg}\n`);
}

function formatId(n) {
  return opts.idFormat === 'hex' ? n.toString(16).toUpperCase() : String(n);
}

function concatInfo(pdu) {
  const sm = pdu.short_message;
  if (sm && Array.isArray(sm.udh)) {
    for (const ie of sm.udh) {
      if (ie[0] === 0x00 && ie[1] === 3) return { reference: ie[2], total: ie[3], seq: ie[4] };
      if (ie[0] === 0x08 && ie[1] === 4) return { reference: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
    }
  }
  if (pdu.sar_msg_ref_num !== undefined) {
    return { reference: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
  }
  return null;
}

function messageText(pdu) {
  const sm = pdu.short_message;
  if (sm && typeof sm.message === 'string') return sm.message;
  if (sm && Buffer.isBuffer(sm.message)) return sm.message.toString('latin1');
  const mp = pdu.message_payload;
  if (mp && typeof mp.message === 'string') return mp.message;
  return '';
}

function recordSegment(pdu) {
  const concat = concatInfo(pdu);
  const text = messageText(pdu);
  const key = JSON.stringify([pdu.destination_addr, concat, text]);
  const count = (segmentCounts.get(key) || 0) + 1;
  segmentCounts.set(key, count);
  if (count === 1) {
    summary.unique_segments += 1;
    summary.segments.push({
      destination: pdu.destination_addr,
      source: pdu.source_addr,
      source_ton: pdu.source_addr_ton,
      esm_class: pdu.esm_class,
      data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      concat,
      text,
    });
  } else {
    summary.duplicate_segments += 1;
  }
}

function printSummary() {
  process.stdout.write(`SUMMARY ${JSON.stringify(summary)}\n`);
}

const server = smpp.createServer((session) => {
  summary.connections += 1;
  let open = true;
  session.on('close', () => { open = false; });
  session.on('error', (err) => log(`session error: ${err.message}`));

  for (const kind of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(kind, (pdu) => {
      if (pdu.system_id !== opts.systemId || pdu.password !== opts.password) {
        summary.bind_failures += 1;
        session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
        return;
      }
      summary.binds[kind] += 1;
      summary.interface_versions.push(pdu.interface_version);
      session.send(pdu.response({ system_id: 'NODESMSC' }));
    });
  }

  session.on('enquire_link', (pdu) => {
    summary.enquire_links += 1;
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    summary.unbinds += 1;
    session.send(pdu.response(), () => session.close());
  });

  session.on('deliver_sm_resp', (pdu) => {
    summary.receipts_acked += 1;
    const key = String(pdu.command_status);
    summary.receipt_ack_statuses[key] = (summary.receipt_ack_statuses[key] || 0) + 1;
  });

  session.on('unknown', (pdu) => {
    summary.generic_nacks_sent += 1;
    session.send(pdu.response());
  });

  session.on('submit_sm', (pdu) => {
    summary.submits_received += 1;
    const n = summary.submits_received;
    if (opts.dropAfter > 0 && n === opts.dropAfter && !dropped) {
      dropped = true;
      summary.dropped_links += 1;
      summary.unanswered_submits += 1;
      // The carrier got the submit and may have accepted it: record it as a segment.
      recordSegment(pdu);
      log(`dropping the link at submit ${n}`);
      session.destroy();
      return;
    }
    if (opts.throttleEvery > 0 && n % opts.throttleEvery === 0) {
      summary.throttled += 1;
      session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    summary.accepted += 1;
    recordSegment(pdu);
    const idNum = nextId++;
    const id = formatId(idNum);
    session.send(pdu.response({ message_id: id }), () => {
      if (!(pdu.registered_delivery & 0x01) || !open) return;
      const date = '2611252240';
      summary.receipts_sent += 1;
      session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        receipted_message_id: id,
        message_state: 2,
        short_message: `id:${idNum} sub:001 dlvrd:001 submit date:${date} done date:${date} stat:DELIVRD err:000 text:`,
      });
    });
  });
});

server.on('error', (err) => {
  log(`server error: ${err.message}`);
  process.exit(2);
});

server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

process.stdin.setEncoding('utf8');
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (line === 'summary') printSummary();
    else if (line === 'exit') finish();
  }
});
process.stdin.on('end', finish);

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  printSummary();
  server.close();
  for (const s of server.sessions.slice()) s.destroy();
  setTimeout(() => process.exit(0), 50);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
