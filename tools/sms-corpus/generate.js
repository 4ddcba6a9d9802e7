#!/usr/bin/env node
// Writes crates/smsflow-sms/tests/corpus.json: messages with the encoding and segments that
// Twilio's calculator (npm `sms-segments-calculator`, version pinned in package.json)
// reports for them. crates/smsflow-sms/tests/corpus.rs checks smsflow-sms against it.
//
// Run from this directory:  npm ci && node generate.js
//
// What the calculator counts (read from its source, src/libs/*.ts):
// - auto encoding: GSM-7 if every grapheme is one UTF-16 unit found in its GSM table,
//   else UCS-2; smart encoding is off here (third constructor argument false), like our
//   default `Options`.
// - a segment holds 1120 bits (140 octets); once a second segment is needed, every
//   segment gets a 6-octet UDH (48 bits): 153 septets (7 bits each; GSM extension
//   characters are 2 septets kept together) or 67 UTF-16 units (16 bits each). This is
//   our `Concat::Udh8`.
// - it never splits a grapheme cluster across segments. Clusters come from
//   grapheme-splitter 1.0.4 (UAX #29 of Unicode 10.0), and then every CR LF is cut in two
//   (src/libs/textUtils.ts). A cluster that does not fit in what is left of a segment
//   starts the next one; a cluster longer than a whole segment goes whole into a segment
//   of its own, over 140 octets (smsflow-sms splits it instead: the one difference that
//   corpus.rs documents, `grapheme/longer-than-a-part`).
// Per entry we record the calculator's encoding, segment count, units per segment
// (message bits of the segment, UDH excluded, / 7 or / 16), total units, its
// `numberOfCharacters` (septets for GSM-7 but graphemes for UCS-2) and
// `numberOfUnicodeScalars`.
'use strict';

const fs = require('fs');
const path = require('path');
const { SegmentedMessage } = require('sms-segments-calculator');
const calculatorVersion = require('sms-segments-calculator/package.json').version;

const OUT = path.join(__dirname, '..', '..', 'crates', 'smsflow-sms', 'tests', 'corpus.json');

const cases = [];
const add = (id, text) => {
  if (cases.some((c) => c.id === id)) throw new Error(`duplicate id ${id}`);
  cases.push({ id, text });
};
const rep = (s, n) => s.repeat(n);

// ---------------------------------------------------------------- GSM-7
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT = ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f'];
const EXT_NAMES = ['caret', 'lbrace', 'rbrace', 'backslash', 'lbracket', 'tilde', 'rbracket', 'pipe', 'euro', 'formfeed'];

add('gsm/empty', '');
add('gsm/space', ' ');
add('gsm/three-spaces', '   ');
add('gsm/lf', '\n');
add('gsm/crlf', '\r\n');
add('gsm/cr', '\r');
add('gsm/hello', 'Hello World');
add('gsm/at', '@');
add('gsm/at-x160', rep('@', 160));
add('gsm/at-x161', rep('@', 161));
add('gsm/dollar', 'Total: $5');
add('gsm/accents', '£¥èéùìòÇØøÅå');
add('gsm/greek', 'ΔΦΓΛΩΠΨΣΘΞ');
add('gsm/misc-latin', 'ÆæßÉ ¤¡¿ÄÖÑÜ§äöñüà');
add('gsm/basic-table', GSM_BASIC);
add('gsm/basic-table-x2', rep(GSM_BASIC, 2));
add('gsm/basic-table-x3', rep(GSM_BASIC, 3));
add('gsm/otp', 'Your code is 123456. It expires in 10 minutes. Do not share it.');
add('gsm/newlines', 'Line 1\nLine 2\nLine 3\r\nLine 4');
for (const n of [1, 70, 71, 134, 135, 152, 153, 154, 159, 160, 161, 162, 200, 305, 306, 307,
  458, 459, 460, 461, 612, 613, 1000, 1530, 1531, 39015, 39016]) {
  add(`gsm/a-x${n}`, rep('a', n));
}
for (const [name, ch] of [['space', ' '], ['lf', '\n'], ['cr', '\r']]) {
  add(`gsm/${name}-x160`, rep(ch, 160));
  add(`gsm/${name}-x161`, rep(ch, 161));
}
add('gsm/crlf-x80', rep('\r\n', 80));
add('gsm/crlf-x81', rep('\r\n', 81));
add('gsm/crlf-x153', rep('\r\n', 153));
GSM_EXT.forEach((ch, i) => {
  const name = EXT_NAMES[i];
  add(`gsm-ext/${name}`, ch);
  add(`gsm-ext/${name}-x80`, rep(ch, 80));
  add(`gsm-ext/${name}-x81`, rep(ch, 81));
  // The pair would occupy septets 153-154: it must move whole to part 2.
  add(`gsm-ext/${name}-at-153`, rep('a', 152) + ch + rep('b', 20));
  // The pair ends exactly on septet 153.
  add(`gsm-ext/${name}-ends-at-153`, rep('a', 151) + ch + rep('b', 20));
});
add('gsm-ext/euro-ends-at-160', rep('a', 158) + '€');
add('gsm-ext/euro-ends-at-161', rep('a', 159) + '€');
add('gsm-ext/lbrace-at-306', rep('a', 305) + '{' + rep('b', 5));
add('gsm-ext/rbrace-ends-at-306', rep('a', 304) + '}' + rep('b', 5));
add('gsm-ext/pipe-at-459', rep('a', 458) + '|' + rep('b', 5));
add('gsm-ext/all', GSM_EXT.join(''));
add('gsm-ext/all-x16', rep(GSM_EXT.join(''), 16));
add('gsm-ext/all-x17', rep(GSM_EXT.join(''), 17));
add('gsm-ext/a-euro-x60', rep('a€', 60));
add('gsm-ext/euro-x153', rep('€', 153));
add('gsm-ext/json', '{"code":"123456","items":[1,2,3],"path":"C:\\tmp"} ~ ^ |');
add('gsm-ext/price', 'Your order of 12,50€ is confirmed [ref: ABC~123]');

// ---------------------------------------------------------------- UCS-2
const singles = [
  ['backtick', '`'], ['c-cedilla-lower', 'ç'], ['a-acute', 'á'], ['i-acute', 'í'], ['o-acute', 'ó'],
  ['u-acute', 'ú'], ['e-circumflex', 'ê'], ['tab', '\t'], ['nbsp', '\u00a0'], ['rsquo', '\u2019'],
  ['ldquo', '\u201c'], ['em-dash', '\u2014'], ['en-dash', '\u2013'], ['ellipsis', '\u2026'],
  ['zhe', 'ж'], ['han', '中'], ['arabic-alef', 'ا'], ['hebrew-alef', 'א'], ['emoji', '😀'],
  ['nul', '\0'], ['bom', '\ufeff'], ['zwsp', '\u200b'], ['omega-ohm-sign', '\u2126'],
  ['greek-alpha', 'α'], ['thorn', 'þ'], ['euro-sign-alt', '\u20a0'], ['math-bold-a', '𝐀'],
];
for (const [name, ch] of singles) add(`ucs2/single-${name}`, ch);
add('ucs2/hello-rsquo', 'It\u2019s ready');
add('ucs2/hello-tab', 'a\tb');
for (const n of [1, 69, 70, 71, 134, 135, 201, 268, 269, 670]) add(`ucs2/zhe-x${n}`, rep('ж', n));
for (const n of [70, 71, 140]) add(`ucs2/han-x${n}`, rep('中', n));
add('ucs2/gsm-plus-one-x69', rep('a', 69) + '\u2019');
add('ucs2/gsm-plus-one-x70', rep('a', 70) + '\u2019');
add('ucs2/gsm-plus-one-x159', rep('a', 159) + 'ç');
add('ucs2/ext-chars-cost-one-unit-70', 'ж' + rep('€', 69));
add('ucs2/ext-chars-cost-one-unit-71', 'ж' + rep('{', 70));
add('ucs2/crlf-x30', rep('ж\r\n', 30));
add('ucs2/crlf-x40', rep('ж\r\n', 40));
for (const n of [1, 34, 35, 36, 67, 100]) add(`ucs2/emoji-x${n}`, rep('😀', n));
add('ucs2/emoji-x34-plus-a', rep('😀', 34) + 'a');
add('ucs2/emoji-x35-plus-a', rep('😀', 35) + 'a');
add('ucs2/emoji-ends-at-70', rep('a', 68) + '😀');
add('ucs2/emoji-ends-at-71', rep('a', 69) + '😀');
add('ucs2/emoji-at-67', rep('ж', 66) + '😀' + rep('ж', 10));
add('ucs2/emoji-ends-at-67', rep('ж', 65) + '😀' + rep('ж', 10));
add('ucs2/emoji-at-134', rep('ж', 133) + '😀' + rep('ж', 10));
add('ucs2/emoji-ends-at-134', rep('ж', 132) + '😀' + rep('ж', 10));
add('ucs2/emoji-odd-offset-x100', 'a' + rep('😀', 100));
add('ucs2/astral-math-x71', rep('𝐀', 71));
add('ucs2/skin-tone-mid', 'Great job 👍🏽 see you');
add('ucs2/zwj-family-mid', 'Family: 👨‍👩‍👧‍👦!');
add('ucs2/flags-mid', 'Flags 🇫🇷🇩🇪🇯🇵');
add('ucs2/keycap-mid', 'Press 1️⃣ now');
add('ucs2/combining-mid', 'Cafe\u0301 ok');
add('ucs2/mixed-scripts', 'Hello Привет 你好 مرحبا שלום Γειά σου こんにちは');
add('ucs2/mixed-scripts-x4', rep('Hello Привет 你好 مرحبا שלום Γειά σου こんにちは ', 4));
add('ucs2/russian-otp', 'Ваш код подтверждения: 482913. Никому его не сообщайте.');
add('ucs2/chinese-long', rep('您的验证码是482913，五分钟内有效。请勿泄露给他人。', 5));
add('ucs2/arabic-long', rep('رمز التحقق الخاص بك هو 482913. لا تشاركه مع أي شخص. ', 3));
add('ucs2/greek-lower', rep('αβγδεζηθικλμνξοπρστυφχψω', 3));
add('ucs2/hangul', rep('인증번호는 482913 입니다. ', 6));
add('ucs2/hindi-short', 'नमस्ते दुनिया');
add('ucs2/thai-short', 'สวัสดีครับ');
add('ucs2/emoji-and-ext', 'Promo {50%} off 🎉 today €10 [code]');
add('ucs2/space-then-emoji', '   😀   ');

// Grapheme clusters made of several code points, placed across (or ending exactly on) a
// part boundary: both sides keep each cluster whole and move it to the next part. The
// calculator's clusters are those of Unicode 10 with CR LF cut in two; smsflow-sms follows
// it there (Indic conjuncts, CR LF; see crates/smsflow-sms/src/cluster.rs). Only emoji
// sequences newer than Unicode 10 are clustered differently, so none is used here.
add('grapheme/skin-tone-at-67', rep('ж', 65) + '👍🏽' + rep('ж', 10));
add('grapheme/skin-tone-adds-a-part', rep('ж', 65) + '👍🏽' + rep('ж', 65));
add('grapheme/zwj-family-at-67', rep('ж', 60) + '👨‍👩‍👧‍👦' + rep('ж', 20));
add('grapheme/flag-at-67', rep('ж', 65) + '🇫🇷' + rep('ж', 10));
add('grapheme/flag-after-66', rep('ж', 66) + '🇫🇷' + rep('ж', 10));
add('grapheme/combining-acute-at-67', rep('ж', 66) + 'e\u0301' + rep('ж', 5));
add('grapheme/keycap-at-67', rep('ж', 65) + '1\ufe0f\u20e3' + rep('ж', 5));
add('grapheme/longer-than-a-part', 'e' + rep('\u0301', 80));
add('grapheme/hindi-long', rep('नमस्ते दुनिया, आपका कोड 482913 है। ', 5));
// More clusters at the first and second boundaries (67 and 134 UTF-16 units).
add('grapheme/skin-tone-ends-at-67', rep('ж', 63) + '👍🏽' + rep('ж', 10));
add('grapheme/skin-tone-at-134', rep('ж', 132) + '👍🏾' + rep('ж', 10));
add('grapheme/zwj-family-ends-at-67', rep('ж', 56) + '👨‍👩‍👧‍👦' + rep('ж', 10));
add('grapheme/zwj-skin-tone-gender-at-67', rep('ж', 62) + '🙋🏾‍♀️' + rep('ж', 10));
add('grapheme/rainbow-flag-at-67', rep('ж', 63) + '🏳️‍🌈' + rep('ж', 10));
add('grapheme/tag-flag-at-67', rep('ж', 60) + '🏴󠁧󠁢󠁳󠁣󠁴󠁿' + rep('ж', 10));
add('grapheme/flag-at-134', rep('ж', 131) + '🇯🇵' + rep('ж', 10));
add('grapheme/flags-after-odd-offset', 'a' + rep('🇫🇷🇩🇪', 20));
add('grapheme/keycap-ends-at-67', rep('ж', 64) + '#️⃣' + rep('ж', 5));
add('grapheme/heart-vs16-at-67', rep('ж', 66) + '❤️' + rep('ж', 5));
add('grapheme/two-marks-at-67', rep('ж', 65) + 'e\u0301\u0323' + rep('ж', 5));
add('grapheme/hangul-jamo-at-67', rep('ж', 65) + '\u1112\u1161\u11ab' + rep('ж', 5));
add('grapheme/thai-sara-am-at-67', rep('ж', 66) + 'กำ' + rep('ж', 5));
add('grapheme/prepend-at-67', rep('ж', 66) + '\u0600\u0661\u0662' + rep('ж', 5));
add('grapheme/skin-tone-x40', rep('👍🏽', 40));
add('grapheme/family-x10', rep('👨‍👩‍👧‍👦', 10));
add('grapheme/keycaps-x30', rep('1️⃣', 30));
add('grapheme/combining-x50', rep('e\u0301', 50));
// CR LF: the calculator counts CR and LF as two characters and may end a part between them.
add('grapheme/crlf-at-67', rep('ж', 66) + '\r\n' + rep('ж', 5));
add('grapheme/crlf-at-153', rep('a', 152) + '\r\n' + rep('b', 10));
// Indic conjuncts (consonant + virama + consonant): one cluster under today's rule GB9c,
// two under Unicode 10, which ends the cluster after the virama.
add('grapheme/hindi-conjunct-at-67', rep('ж', 65) + 'स्ते' + rep('ж', 5));
add('grapheme/hindi-conjunct-after-66', rep('ж', 66) + 'स्ते' + rep('ж', 5));
add('grapheme/hindi-three-consonants-at-67', rep('ж', 64) + 'स्त्री' + rep('ж', 5));
add('grapheme/hindi-half-form-zwj-at-67', rep('ж', 64) + 'क्\u200dष' + rep('ж', 5));
add('grapheme/bengali-conjunct-at-67', rep('ж', 65) + 'ক্ষ' + rep('ж', 5));
add('grapheme/hindi-otp', rep('आपका सत्यापन कोड 482913 है। इसे किसी के साथ साझा न करें। ', 3));
add('grapheme/bengali-otp', rep('আপনার যাচাইকরণ কোড 482913। এটি কারও সাথে শেয়ার করবেন না। ', 3));

// ---------------------------------------------------------------- deterministic random
// mulberry32, fixed seed: the same corpus on every run.
let seed = 0x5eed2024;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
// Pools hold single code points only (no combining marks, modifiers, joiners or regional
// indicators), so grapheme clusters equal code points and both tools must agree exactly.
const BASIC_CHARS = [...GSM_BASIC];
const BMP_CHARS = [...'жщЯ中文字الحбвгαβγשלוםçáíóúêõ\u2019\u201c\u2014\u2026\u00a0`\t'];
const ASTRAL_CHARS = [...'😀😂🎉🚀🔥💡🧪𝐀𝄞'];
const randomText = (len, mix) => {
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rand();
    if (r < mix.ext) s += pick(GSM_EXT);
    else if (r < mix.ext + mix.bmp) s += pick(BMP_CHARS);
    else if (r < mix.ext + mix.bmp + mix.astral) s += pick(ASTRAL_CHARS);
    else s += pick(BASIC_CHARS);
  }
  return s;
};
const lengths = () => Math.floor(rand() * 700) + 1;
for (let i = 0; i < 40; i++) add(`random/gsm-${i}`, randomText(lengths(), { ext: 0.15, bmp: 0, astral: 0 }));
for (let i = 0; i < 25; i++) add(`random/ucs2-bmp-${i}`, randomText(Math.ceil(lengths() / 2), { ext: 0.05, bmp: 0.3, astral: 0 }));
for (let i = 0; i < 25; i++) add(`random/ucs2-astral-${i}`, randomText(Math.ceil(lengths() / 2), { ext: 0.05, bmp: 0.1, astral: 0.4 }));
// Near the boundaries: lengths that land around 160/70 and multiples of 153/67.
for (let i = 0; i < 15; i++) {
  const len = pick([158, 159, 160, 161, 305, 306, 307, 458, 459, 460]) - Math.floor(rand() * 8);
  add(`random/gsm-boundary-${i}`, randomText(len, { ext: 0.1, bmp: 0, astral: 0 }));
}
for (let i = 0; i < 15; i++) {
  const len = pick([68, 69, 70, 71, 133, 134, 135, 200, 201, 202]) - Math.floor(rand() * 4);
  add(`random/ucs2-boundary-${i}`, randomText(len, { ext: 0.02, bmp: 0.2, astral: 0.25 }));
}

// ---------------------------------------------------------------- run the calculator
const entries = cases.map(({ id, text }) => {
  const m = new SegmentedMessage(text, 'auto', false);
  const bits = m.encodingName === 'GSM-7' ? 7 : 16;
  const segmentUnits = m.segments.map((s) => {
    const b = s.messageSizeInBits();
    if (b % bits !== 0) throw new Error(`${id}: ${b} bits is not a whole number of units`);
    return b / bits;
  });
  return {
    id,
    text,
    encoding: m.encodingName,
    segments: m.segmentsCount,
    segment_units: segmentUnits,
    units: m.messageSize / bits,
    characters: m.numberOfCharacters,
    unicode_scalars: m.numberOfUnicodeScalars,
  };
});

const header = {
  generator: 'tools/sms-corpus/generate.js',
  calculator: `sms-segments-calculator@${calculatorVersion}`,
  options: { encoding: 'auto', smart_encoding: false },
  note: 'segment_units: units per segment, UDH excluded (septets for GSM-7, UTF-16 units for UCS-2)',
};
const body = entries.map((e) => '    ' + JSON.stringify(e)).join(',\n');
const json = `{\n${Object.entries(header).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`).join('\n')}\n  "entries": [\n${body}\n  ]\n}\n`;
JSON.parse(json); // sanity check
fs.writeFileSync(OUT, json);
process.stdout.write(`wrote ${entries.length} entries to ${path.relative(process.cwd(), OUT)}\n`);
