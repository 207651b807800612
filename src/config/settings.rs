//! The one declaration of every option.
