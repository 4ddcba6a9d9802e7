//! Route selection: longest destination prefix, then tenant-specific over generic, then
//! weight, then route id (so the choice is deterministic).

use smsflow_events::{CarrierId, Lane, Msisdn, Route, TenantId};

use crate::config::RouteTableConfig;

/// A route table loaded and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    /// Version recorded in decisions.
    pub version: i64,
    /// Routes.
    pub routes: Vec<Route>,
}

/// A route table entry that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("route {route}: {reason}")]
pub struct RouteError {
    route: String,
    reason: String,
}

impl RouteTable {
    /// Checks and converts the configured table.
    pub fn from_config(cfg: &RouteTableConfig) -> Result<Self, RouteError> {
        let mut routes = Vec::new();
        for r in &cfg.routes {
            let err = |reason: String| RouteError {
                route: r.route_id.clone(),
                reason,
            };
            if !r.prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("prefix {:?} must be digits", r.prefix)));
            }
            let carrier = |c: &str| CarrierId::parse(c).map_err(|e| err(e.to_string()));
            let lanes = r
                .lanes
                .iter()
                .map(|l| Lane::parse(l).ok_or_else(|| err(format!("unknown lane {l:?}"))))
                .collect::<Result<_, _>>()?;
            routes.push(Route {
                route_id: r.route_id.clone(),
                prefix: r.prefix.clone(),
                tenant_id: r
                    .tenant_id
                    .as_deref()
                    .map(TenantId::parse)
                    .transpose()
                    .map_err(|e| err(e.to_string()))?,
                lanes,
                carrier_id: carrier(&r.carrier_id)?,
                failover: r
                    .failover
                    .iter()
                    .map(|c| carrier(c))
                    .collect::<Result<_, _>>()?,
                cost_micros: r.cost_micros,
                currency: r.currency.clone(),
                weight: r.weight,
            });
        }
        Ok(Self {
            version: cfg.version,
            routes,
        })
    }

    /// The route for a message, if any.
    pub fn select(&self, to: &Msisdn, tenant: &TenantId, lane: Lane) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| to.digits().starts_with(&r.prefix))
            .filter(|r| r.tenant_id.as_ref().is_none_or(|t| t == tenant))
            .filter(|r| r.lanes.is_empty() || r.lanes.contains(&lane))
            .max_by(|a, b| {
                (
                    a.prefix.len(),
                    a.tenant_id.is_some(),
                    a.weight,
                    std::cmp::Reverse(&a.route_id),
                )
                    .cmp(&(
                        b.prefix.len(),
                        b.tenant_id.is_some(),
                        b.weight,
                        std::cmp::Reverse(&b.route_id),
                    ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(id: &str, prefix: &str, tenant: Option<&str>, lanes: &[Lane], weight: i32) -> Route {
        Route {
            route_id: id.into(),
            prefix: prefix.into(),
            tenant_id: tenant.map(|t| TenantId::parse(t).unwrap()),
            lanes: lanes.to_vec(),
            carrier_id: CarrierId::parse(id).unwrap(),
            failover: vec![],
            cost_micros: 1,
            currency: "EUR".into(),
            weight,
        }
    }

    fn table(routes: Vec<Route>) -> RouteTable {
        RouteTable { version: 1, routes }
    }

    fn n(s: &str) -> Msisdn {
        Msisdn::parse(s).unwrap()
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table(vec![
            route("all", "", None, &[], 0),
            route("uk", "44", None, &[], 0),
            route("ukm", "447", None, &[], 0),
        ]);
        assert_eq!(
            t.select(&n("+447700900123"), &acme(), Lane::Bulk)
                .unwrap()
                .route_id,
            "ukm"
        );
        assert_eq!(
            t.select(&n("+441234567890"), &acme(), Lane::Bulk)
                .unwrap()
                .route_id,
            "uk"
        );
        assert_eq!(
            t.select(&n("+33612345678"), &acme(), Lane::Bulk)
                .unwrap()
                .route_id,
            "all"
        );
    }

    #[test]
    fn tenant_and_lane_filters_apply() {
        let t = table(vec![
            route("generic", "44", None, &[], 0),
            route("acme-only", "44", Some("acme"), &[], 0),
            route("otp-only", "447", None, &[Lane::Otp], 0),
        ]);
        assert_eq!(
            t.select(&n("+441234567890"), &acme(), Lane::Bulk)
                .unwrap()
                .route_id,
            "acme-only"
        );
        let other = TenantId::parse("other").unwrap();
        assert_eq!(
            t.select(&n("+441234567890"), &other, Lane::Bulk)
                .unwrap()
                .route_id,
            "generic"
        );
        assert_eq!(
            t.select(&n("+447700900123"), &other, Lane::Otp)
                .unwrap()
                .route_id,
            "otp-only"
        );
        assert_eq!(
            t.select(&n("+447700900123"), &other, Lane::Bulk)
                .unwrap()
                .route_id,
            "generic"
        );
    }

    #[test]
    fn no_route_is_none() {
        let t = table(vec![route("fr", "33", None, &[], 0)]);
        assert!(t.select(&n("+447700900123"), &acme(), Lane::Otp).is_none());
    }

    fn arb_route() -> impl Strategy<Value = Route> {
        (
            "[a-z]{1,6}",
            "[0-9]{0,4}",
            proptest::option::of(Just("acme")),
            proptest::sample::subsequence(Lane::ALL.to_vec(), 0..=3),
            -3i32..3,
        )
            .prop_map(|(id, p, t, lanes, w)| route(&id, &p, t, &lanes, w))
    }

    proptest! {
        /// The chosen route matches the message, and no matching route is strictly better.
        #[test]
        fn selection_is_the_best_match(routes in proptest::collection::vec(arb_route(), 0..12), digits in "[1-9][0-9]{9,12}", lane in proptest::sample::select(Lane::ALL)) {
            let t = table(routes);
            let to = n(&format!("+{digits}"));
            let matches: Vec<&Route> = t.routes.iter()
                .filter(|r| digits.starts_with(&r.prefix) && (r.lanes.is_empty() || r.lanes.contains(&lane)))
                .collect();
            match t.select(&to, &acme(), lane) {
                None => prop_assert!(matches.is_empty()),
                Some(best) => {
                    prop_assert!(matches.contains(&best));
                    for m in matches {
                        prop_assert!(m.prefix.len() <= best.prefix.len());
                        if m.prefix.len() == best.prefix.len() {
                            prop_assert!(m.tenant_id.is_none() || best.tenant_id.is_some());
                            if m.tenant_id.is_some() == best.tenant_id.is_some() {
                                prop_assert!(m.weight <= best.weight);
                            }
                        }
                    }
                }
            }
        }

        /// Reordering the table never changes the decision.
        #[test]
        fn selection_ignores_table_order(routes in proptest::collection::vec(arb_route(), 0..12).prop_shuffle(), digits in "[1-9][0-9]{9,12}") {
            let to = n(&format!("+{digits}"));
            let mut sorted = routes.clone();
            sorted.sort_by(|a, b| a.route_id.cmp(&b.route_id).then(a.prefix.cmp(&b.prefix)));
            let a = table(routes).select(&to, &acme(), Lane::Otp).map(|r| (r.route_id.clone(), r.prefix.clone(), r.weight, r.tenant_id.clone()));
            let b = table(sorted).select(&to, &acme(), Lane::Otp).map(|r| (r.route_id.clone(), r.prefix.clone(), r.weight, r.tenant_id.clone()));
            prop_assert_eq!(a, b);
        }
    }
}
