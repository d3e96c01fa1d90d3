pub mod build;
pub mod dev;
pub mod extract;
pub mod inspect;
pub mod license;
pub mod migrate;
