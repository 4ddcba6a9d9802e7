//! `smsflow dlq`: inspect and replay the dead-letter topic (`<prefix>sms.dlq`).
//!
//! Every service copies a record it can never handle to the dead-letter topic with its key,
//! bytes and headers saying where it came from and why (`smsflow_kafka::dlq`); the dispatcher
//! also parks raw SMPP data there (`smpp:<carrier>`). These commands read that topic without
//! joining or committing for any consumer group ([`read`]), so they never move a service's
//! offsets.
//!
//! | module | role |
//! |---|---|
//! | [`record`] | a dead letter as read, its origin and error headers |
//! | [`position`] | `<partition>:<offset>` in the dead-letter topic |
//! | [`filter`] | selection by service, code, original topic, `--since` |
//! | [`read`] | the scan (start or `--since` to the end, or on with `--follow`) and single reads |
//! | [`mask`] | numbers and bodies hidden unless `--reveal` |
//! | [`list`] | `dlq list`: one line (or JSON object) per dead letter |
//! | [`show`] | `dlq show`: headers and the decoded event |
//! | [`redrive`] | `dlq redrive`: back to the original topic, with `smsflow.redrive.from` |
//! | [`error`] | [`DlqError`]: unreachable broker, missing topic, partition or offset |

pub mod error;
pub mod filter;
pub mod list;
pub mod mask;
pub mod position;
pub mod read;
pub mod record;
pub mod redrive;
pub mod show;

pub use error::DlqError;
pub use filter::{Filter, parse_since};
pub use list::{ListOptions, Listed, list};
pub use position::Position;
pub use read::Scanner;
pub use record::{DeadRecord, Origin};
pub use redrive::{RedriveOptions, Report, Skip, redrive};
pub use show::{Decoded, ShowOptions, Shown, inspect, render};
