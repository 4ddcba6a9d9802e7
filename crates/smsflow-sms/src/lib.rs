//! SMS text encoding and segmentation for smsflow.
//!
//! This crate turns a message body into what a carrier link sends: it picks the most
//! compact encoding (GSM 03.38 7-bit when every character fits, UCS-2 otherwise), optionally
//! replaces look-alike punctuation so a message stays GSM-7, splits long messages into
//! concatenated parts without ever cutting a GSM escape pair, a UTF-16 surrogate pair or a
//! grapheme cluster (an emoji with its skin tone, a flag, a letter with its accents; only a
//! cluster longer than a whole part is split), and builds the concatenation header (UDH)
//! of each part. Encodings and part counts agree with Twilio's published calculator (npm
//! `sms-segments-calculator`); `tests/corpus.rs` checks it. It has no I/O and does not log.
//!
//! The router uses [`segment`] to decide how many parts a message costs; the ingest API
//! returns a [`Preview`]; the SMPP client (`smsflow-smpp`) sends each [`Part`] either as
//! `short_message` with a UDH (`esm_class` 0x40, see [`Part::short_message`]), with SAR TLVs
//! (take [`Part::payload`], [`Part::seq`], [`Part::total`] and [`Concat::reference`]), or
//! unsplit in `message_payload` (see [`encode`]).
//!
//! Module map:
//! - [`gsm7`]: GSM 03.38 default alphabet and extension table, septet encode/decode,
//!   7-bit packing with fill bits.
//! - [`ucs2`]: UTF-16BE encode/decode (surrogate pairs included).
//! - [`smart`]: optional replacement of look-alike characters (curly quotes, dashes, ...).
//! - `encoding`: [`Encoding`], [`Options`], the automatic choice and [`encode`].
//! - `concat`: [`Concat`] (8-bit or 16-bit reference UDH) and part capacities.
//! - `cluster`: where a part may end (grapheme clusters, as the calculator counts them).
//! - `segment`: [`segment`], [`Segmented`] and [`Part`].
//! - `preview`: [`preview`] and [`Preview`] for the API.
//! - [`keywords`]: STOP / START / HELP and their synonyms in an inbound message.
//! - `error`: [`EncodingError`].
//!
//! Units: a GSM-7 message is measured in septets (an extension character costs 2), a UCS-2
//! message in UTF-16 code units (a character outside the BMP, such as most emoji, costs 2).

mod cluster;
mod concat;
mod encoding;
mod error;
pub mod gsm7;
pub mod keywords;
mod preview;
mod segment;
pub mod smart;
pub mod ucs2;

pub use concat::{Concat, MAX_PARTS, MAX_USER_DATA_OCTETS};
pub use encoding::{Encoded, Encoding, Options, encode};
pub use error::EncodingError;
pub use preview::{Preview, preview};
pub use segment::{Part, Segmented, segment};
