pub mod build;
pub mod dev;
pub mod extract;
pub mod info;
pub mod init;
pub mod inspect;
pub mod license;
pub mod migrate;
