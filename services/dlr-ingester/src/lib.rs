//! dlr-ingester
