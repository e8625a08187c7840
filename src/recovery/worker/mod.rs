//! Background workers of the recovery pipeline.

pub mod segment_preloader;
