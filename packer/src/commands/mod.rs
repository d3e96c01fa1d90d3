pub mod build;
pub mod extract;
pub mod inspect;
