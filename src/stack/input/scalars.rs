//! Scalar helper types. Values come out of interpolation as strings (`read_only: "${RO}"`,
//! `cpus: "0.5"`, `scale: "2"`), so every number or boolean of the Compose Specification also
//! accepts a string, parsed the way compose-go parses it.
//!
//! [`by_shape!`] implements `Deserialize` for "short or long syntax" enums by dispatching on
//! the shape of the value (string, number, list, mapping) instead of serde's untagged
//! trial-and-error, so that errors inside a long form (an unknown key, a wrong type) keep
//! their message and their key path.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Unexpected, Visitor};

/// Implements `Deserialize` for an enum whose variants each take one shape of value.
/// Shapes: `str`, `int`, `float`, `bool`, `seq`, `map`. Each variant holds one value that is
/// deserialized from the input of that shape.
macro_rules! by_shape {
    ($ty:ident, $expecting:expr, { $($shape:ident => $variant:ident),+ $(,)? }) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct ShapeVisitor;
                impl<'v> ::serde::de::Visitor<'v> for ShapeVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }
                    $( by_shape!(@visit $ty, $shape, $variant); )+
                }
                d.deserialize_any(ShapeVisitor)
            }
        }
    };
    (@visit $ty:ident, str, $variant:ident) => {
        fn visit_str<E: ::serde::de::Error>(self, v: &str) -> ::std::result::Result<$ty, E> {
            ::serde::Deserialize::deserialize(
                ::serde::de::IntoDeserializer::<E>::into_deserializer(v),
            )
            .map($ty::$variant)
        }
    };
    (@visit $ty:ident, int, $variant:ident) => {
        fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> ::std::result::Result<$ty, E> {
            ::serde::Deserialize::deserialize(
                ::serde::de::IntoDeserializer::<E>::into_deserializer(v),
            )
            .map($ty::$variant)
        }
        fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> ::std::result::Result<$ty, E> {
            ::serde::Deserialize::deserialize(
                ::serde::de::IntoDeserializer::<E>::into_deserializer(v),
            )
            .map($ty::$variant)
        }
    };
    (@visit $ty:ident, float, $variant:ident) => {
        fn visit_f64<E: ::serde::de::Error>(self, v: f64) -> ::std::result::Result<$ty, E> {
            ::serde::Deserialize::deserialize(
                ::serde::de::IntoDeserializer::<E>::into_deserializer(v),
            )
            .map($ty::$variant)
        }
    };
    (@visit $ty:ident, bool, $variant:ident) => {
        fn visit_bool<E: ::serde::de::Error>(self, v: bool) -> ::std::result::Result<$ty, E> {
            ::serde::Deserialize::deserialize(
                ::serde::de::IntoDeserializer::<E>::into_deserializer(v),
            )
            .map($ty::$variant)
        }
    };
    (@visit $ty:ident, seq, $variant:ident) => {
        fn visit_seq<A: ::serde::de::SeqAccess<'v>>(
            self,
            a: A,
        ) -> ::std::result::Result<$ty, A::Error> {
            ::serde::Deserialize::deserialize(::serde::de::value::SeqAccessDeserializer::new(a))
                .map($ty::$variant)
        }
    };
    (@visit $ty:ident, map, $variant:ident) => {
        fn visit_map<A: ::serde::de::MapAccess<'v>>(
            self,
            a: A,
        ) -> ::std::result::Result<$ty, A::Error> {
            ::serde::Deserialize::deserialize(::serde::de::value::MapAccessDeserializer::new(a))
                .map($ty::$variant)
        }
    };
}
pub(crate) use by_shape;

/// Declares `JsonSchema` for a scalar helper from a literal list of JSON types.
macro_rules! scalar_schema {
    ($ty:ident, $name:literal, $($types:literal),+) => {
        impl JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": [$($types),+] })
            }
        }
    };
}

/// Parses a YAML 1.1 boolean as compose-go does (`y`, `yes`, `true`, `on` and their negatives,
/// any case).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// A boolean, or a string holding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bool(pub bool);
scalar_schema!(Bool, "Bool", "boolean", "string");

impl<'de> serde::Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean (true or false)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                parse_bool(v)
                    .map(Bool)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A signed integer, or a string holding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Int(pub i64);
scalar_schema!(Int, "Int", "integer", "string");

/// A non-negative integer, or a string holding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UInt(pub u64);
scalar_schema!(UInt, "UInt", "integer", "string");

macro_rules! int_visitor {
    ($ty:ident, $inner:ty, $expecting:literal) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$inner>::try_from(v)
                            .map($ty)
                            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$inner>::try_from(v)
                            .map($ty)
                            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        // A whole float (`2.0`) is accepted as the integer it holds.
                        if v.fract() == 0.0
                            && v >= <$inner>::MIN as f64
                            && v <= <$inner>::MAX as f64
                        {
                            Ok($ty(v as $inner))
                        } else {
                            Err(E::invalid_value(Unexpected::Float(v), &self))
                        }
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse::<$inner>()
                            .map($ty)
                            .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
int_visitor!(Int, i64, "an integer");
int_visitor!(UInt, u64, "a non-negative integer");

/// A number, or a string holding one (`cpus: 0.5`, `cpus: "0.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Float(pub f64);
scalar_schema!(Float, "Float", "number", "string");

impl<'de> serde::Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Float, E> {
                Ok(Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Float, E> {
                match v.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Float(f)),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or a number or boolean taken as its text (map values of `environment`,
/// `labels`, `driver_opts`; `expose` and `group_add` entries).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);
scalar_schema!(Text, "Text", "string", "number", "boolean");

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer or a string to be parsed later (byte sizes like `512m`, modes like `"0440"`).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    Float(f64),
    Str(String),
}
by_shape!(IntOrString, "an integer or a string", {
    int => Int,
    float => Float,
    str => Str,
});

#[cfg(test)]
mod tests {
    use super::*;

    fn de<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        T::deserialize(v).map_err(|e| e.to_string())
    }

    #[test]
    fn bool_accepts_strings_like_compose() {
        assert_eq!(de::<Bool>("true").unwrap(), Bool(true));
        assert_eq!(de::<Bool>("'yes'").unwrap(), Bool(true));
        assert_eq!(de::<Bool>("'OFF'").unwrap(), Bool(false));
        let err = de::<Bool>("'maybe'").unwrap_err();
        assert!(err.contains("maybe") && err.contains("boolean"), "{err}");
        assert!(de::<Bool>("1").is_err());
    }

    #[test]
    fn numbers_accept_strings() {
        assert_eq!(de::<UInt>("'2'").unwrap(), UInt(2));
        assert_eq!(de::<UInt>("2.0").unwrap(), UInt(2));
        assert!(de::<UInt>("-1").unwrap_err().contains("non-negative"));
        assert_eq!(de::<Int>("'-5'").unwrap(), Int(-5));
        assert_eq!(de::<Float>("'0.5'").unwrap(), Float(0.5));
        assert_eq!(de::<Float>("2").unwrap(), Float(2.0));
        assert!(de::<Float>("'half'").unwrap_err().contains("half"));
    }

    #[test]
    fn text_takes_scalars_as_text() {
        assert_eq!(de::<Text>("1").unwrap(), Text("1".into()));
        assert_eq!(de::<Text>("true").unwrap(), Text("true".into()));
        assert_eq!(de::<Text>("1.5").unwrap(), Text("1.5".into()));
        assert!(de::<Text>("[a]").is_err());
    }

    #[test]
    fn int_or_string_by_shape() {
        assert_eq!(de::<IntOrString>("5").unwrap(), IntOrString::Int(5));
        assert_eq!(
            de::<IntOrString>("512m").unwrap(),
            IntOrString::Str("512m".into())
        );
        let err = de::<IntOrString>("[1]").unwrap_err();
        assert!(err.contains("an integer or a string"), "{err}");
    }
}
