//! Cross-component tests of the telemetry module: concurrency, layout, the
//! exact dump format and validation of the Prometheus output with the real
//! Python `prometheus_client` parser. Per-type unit tests live beside each type.

mod concurrency;
mod dump_format;
mod layout;
mod python_parser;
