//! End-to-end tests: the real binary, real plugins, real SQLite.

mod common;

mod alaya;
mod auth;
mod boards;
mod clusters;
mod demo_cluster;
mod demo_edge;
mod ief;
mod ief_auth;
mod ief_sdk;
mod ief_validation;
mod inventory;
mod isolation;
mod kb;
mod kboss_buy;
mod kboss_centers;
mod kboss_demo;
mod kboss_devices;
mod kboss_labels_clusters;
mod kboss_live;
mod kboss_podyaml;
mod kboss_pricing;
mod kboss_provision;
mod kboss_widgets;
mod machine;
mod ops;
mod pcapi;
mod pcapi_accommodate;
mod provision;
mod provision_async;
mod routing;
mod scheduling;
mod ssh;
mod swap;
