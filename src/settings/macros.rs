//! The two macros every setting goes through: [`settings!`] declares how a setting is
//! spelled (once, in `options.rs`), and [`group!`] declares what it is validated into, by
//! the module that consumes it.

/// Generates [`Layer`](super::Layer), [`Settings`](super::Settings) and
/// [`SETTINGS`](super::SETTINGS) from one declaration per setting:
///
/// ```text
/// /// User documentation.
/// #[arg(clap attributes)]
/// #[serde(optional extra serde attributes for the file layer)]
/// name: Type = default expression (an Option<Type>), shown "default as documented"
///     [, fallback "VAR" => |value| value as written on the CLI]
///     [, paths resolver];
/// ```
///
/// `paths` says the value holds paths that are relative to where they were written (the
/// current directory for the command line and the environment, the file's directory for a
/// config file); `resolver` (a function of [`super::paths`]) makes them absolute.
macro_rules! settings {
    (@fallback) => { None };
    (@fallback $var:literal => $map:expr) => {
        Some(Fallback { var: $var, to_value: $map })
    };
    ($(
        $(#[doc = $doc:literal])+
        #[arg($($arg:tt)*)]
        $(#[serde($($serde:tt)*)])*
        $name:ident : $ty:ty = $default:expr, shown $shown:literal
            $(, fallback $fvar:literal => $fmap:expr)?
            $(, paths $resolve:path)? ;
    )*) => {
        /// One source's settings: the command line, the environment, the file, or the
        /// platform fallbacks. `None` means "this source does not say".
        #[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct Layer {
            $(
                $(#[doc = $doc])+
                #[arg($($arg)*)]
                $(#[serde($($serde)*)])*
                pub $name: Option<$ty>,
            )*
        }

        impl Layer {
            /// This layer's values, with `lower`'s filling in what this one leaves unset.
            pub fn or(self, lower: Layer) -> Layer {
                Layer { $( $name: self.$name.or(lower.$name), )* }
            }

            /// Whether this layer sets the setting called `name`.
            pub fn is_set(&self, name: &str) -> bool {
                match name {
                    $( stringify!($name) => self.$name.is_some(), )*
                    _ => false,
                }
            }

            /// Applies the declared defaults to what no layer set.
            pub fn resolve(self) -> Settings {
                Settings { $( $name: self.$name.or_else(|| $default), )* }
            }

            /// Makes the relative paths this layer holds absolute against `base`, the
            /// directory of the source it was read from.
            pub fn absolutize(&mut self, base: &std::path::Path) {
                $( $( $resolve(&mut self.$name, base); )? )*
            }
        }

        /// Every setting with defaults applied; `None` only where there is no default.
        /// Serializes to a valid config file (used by `--print-config`).
        #[derive(Serialize, Clone, Debug, PartialEq)]
        pub struct Settings {
            $(
                $(#[doc = $doc])+
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        /// Each setting's value with its name, for validation ([`Check`](super::Check)):
        /// the name in an error message cannot differ from the setting read.
        impl Settings {
            $(
                #[doc = concat!("`", stringify!($name), "` with its name.")]
                pub fn $name(&self) -> Raw<'_, $ty> {
                    Raw { name: stringify!($name), value: self.$name.as_ref() }
                }
            )*
        }

        /// Every setting's metadata, in declaration order.
        pub const SETTINGS: &[Meta] = &[
            $(
                Meta {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n"),+),
                    default: $shown,
                    fallback: settings!(@fallback $($fvar => $fmap)?),
                },
            )*
        ];
    };
}
pub(super) use settings;

/// Declares a group of validated settings, the value its owner consumes: the struct, and
/// `check`, which builds it from the raw [`Settings`](super::Settings) with one expression
/// per field, evaluated in order (a later field may use an earlier one by name):
///
/// ```text
/// group! {
///     /// What the group is.
///     #[derive(Clone, Debug, PartialEq)]
///     pub struct Name from (s, v[, extra: &Type]...) {
///         /// What the field holds.
///         pub field: Type = expression using s (the raw settings) and v (a Check),
///     }
/// }
/// ```
///
/// A new setting of the group is its declaration in `options.rs`, one field here, and the
/// code that reads it.
macro_rules! group {
    (
        $(#[doc = $doc:literal])*
        #[derive($($derive:ident),*)]
        $vis:vis struct $name:ident from ($s:ident, $v:ident $(, $arg:ident : $argty:ty)*) {
            $(
                $(#[doc = $fdoc:literal])*
                $fvis:vis $field:ident : $ty:ty = $check:expr,
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive($($derive),*)]
        $vis struct $name {
            $( $(#[doc = $fdoc])* $fvis $field: $ty, )*
        }

        impl $name {
            /// Validates the group from the raw settings; `v` names each value's source in
            /// error messages.
            #[allow(unused_variables, clippy::redundant_field_names)]
            pub fn check(
                $s: &$crate::settings::Settings,
                $v: &$crate::settings::Check<'_>
                $(, $arg: $argty)*
            ) -> Result<$name, $crate::settings::ConfigError> {
                $( let $field: $ty = $check; )*
                Ok($name { $($field: $field),* })
            }
        }
    };
}
pub(crate) use group;
