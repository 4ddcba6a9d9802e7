//! `sms.config`: configuration as versioned events (compacted topic).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{EventMeta, Lane, avro_enum};
use crate::ids::{CarrierId, TenantId};

/// One route table entry (`Route` in `schemas/RouteTablePublished.avsc`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Stable id.
    pub route_id: String,
    /// Destination digit prefix; longest wins, `""` matches all.
    pub prefix: String,
    /// Restrict to a tenant.
    pub tenant_id: Option<TenantId>,
    /// Lanes served; empty for all.
    pub lanes: Vec<Lane>,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// Failover carriers, in order.
    pub failover: Vec<CarrierId>,
    /// Cost per segment in micro-units.
    pub cost_micros: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Preference among equally specific routes.
    pub weight: i32,
}

/// A new route table version (`schemas/RouteTablePublished.avsc`), key `route-table`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTablePublished {
    /// Envelope.
    pub meta: EventMeta,
    /// Monotonic version.
    pub version: i64,
    /// All routes.
    pub routes: Vec<Route>,
}

avro_enum!(
    /// Connector kind of a carrier.
    CarrierKind { /** SMPP 3.4. */ Smpp = "SMPP", /** HTTP API. */ Http = "HTTP" }
);

/// A carrier was configured (`schemas/CarrierConfigured.avsc`), key `carrier/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierConfigured {
    /// Envelope.
    pub meta: EventMeta,
    /// Carrier.
    pub carrier_id: CarrierId,
    /// Monotonic version.
    pub version: i64,
    /// Connector kind.
    pub kind: CarrierKind,
    /// In routing or not.
    pub enabled: bool,
    /// Submits per second across binds.
    pub tps_limit: i32,
    /// Non-secret settings.
    pub settings: BTreeMap<String, String>,
}
