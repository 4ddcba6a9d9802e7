//! Errors of the simulator library.

use std::{net::SocketAddr, path::PathBuf};

/// Everything that can go wrong when configuring, starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// File that was read.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown / mistyped fields.
    #[error("invalid config: {0}")]
    ConfigParse(#[from] toml::de::Error),
    /// The configuration parsed but is not coherent (e.g. a probability above 1).
    #[error("invalid config: {0}")]
    ConfigInvalid(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address that was asked for.
        addr: SocketAddr,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// MO injection found no bound receiver or transceiver session for the system_id.
    #[error("no receiver session bound for system_id {0:?}")]
    NoReceiver(String),
    /// An outage named a system_id that is not a configured account.
    #[error("unknown system_id {0:?}: not a configured account")]
    UnknownAccount(String),
    /// An MO could not be turned into a deliver_sm (address too long, text too long...).
    #[error("invalid mo: {0}")]
    InvalidMo(String),
}
