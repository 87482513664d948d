//! JSON request bodies: one set of rules for every endpoint. A body that is
//! not a JSON object, or that repeats a key in any object, is a 400; a
//! well-formed one with a wrong, missing or unknown field is a 422 naming
//! the field.
//!
//! Duplicate keys are refused because JSON leaves their meaning open:
//! serde_json keeps the last, other parsers the first, so a proxy or a
//! signature check upstream may have read another body than we store.

use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::config::MAX_REQUEST_BYTES;
use crate::error::ApiError;

/// Parses a required JSON object body.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    parse(&read(body)?)
}

/// Parses an optional JSON object body: an empty one means `{}`.
pub fn optional_json_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = read(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return parse(b"{}");
    }
    parse(&body)
}

fn read(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::PayloadTooLarge {
                limit: MAX_REQUEST_BYTES,
            }
        }
        other => ApiError::BadRequest {
            code: "unreadable_body",
            message: other.body_text(),
        },
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let Unique(value) = serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        if message.starts_with(DUPLICATE) {
            ApiError::BadRequest {
                code: "duplicate_key",
                message: format!("the request body has a {message}; send each key once"),
            }
        } else {
            ApiError::BadRequest {
                code: "malformed_json",
                message: format!("the request body is not valid JSON ({message})"),
            }
        }
    })?;
    if !value.is_object() {
        return Err(ApiError::BadRequest {
            code: "malformed_json",
            message: "the request body must be a JSON object".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." {
            // `missing field `title`` / `unknown field `id``: the name is quoted.
            message
                .split('`')
                .nth(1)
                .map_or_else(|| "body".to_owned(), str::to_owned)
        } else {
            path
        };
        ApiError::Validation { field, message }
    })
}

const DUPLICATE: &str = "duplicate key";

/// A JSON value whose objects, at every depth, name each key once.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE} `{key}`")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_message(body: &str) -> (&'static str, String) {
        match parse::<Value>(body.as_bytes()) {
            Err(ApiError::BadRequest { code, message }) => (code, message),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_key_repeated_at_any_depth_is_refused_naming_it() {
        let (code, message) = code_and_message(r#"{"title":"a","title":"b"}"#);
        assert_eq!(code, "duplicate_key");
        assert!(message.contains("duplicate key `title`"), "{message}");
        let (code, message) = code_and_message(r#"{"data":{"list":[{"sku":1,"sku":2}]}}"#);
        assert_eq!(code, "duplicate_key");
        assert!(message.contains("`sku`"), "{message}");
        let (code, _) = code_and_message(r#"{"title":"a""#);
        assert_eq!(code, "malformed_json");
    }

    #[test]
    fn unique_keys_parse_to_the_same_value_serde_json_gives() {
        let body = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":18446744073709551615}"#;
        let ours: Value = parse(body.as_bytes()).unwrap();
        assert_eq!(ours, serde_json::from_str::<Value>(body).unwrap());
    }
}
