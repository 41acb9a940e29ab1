//! Fields of JSON objects, cheaply: parsing only the ones a plugin reads
//! ([`parse_kept`]) and reading one by JSON pointer without allocating
//! ([`At`]).
//!
//! A listed Kubernetes object is mostly fields a board never shows
//! (`managedFields`, the pod spec, annotations); a 10,000-pod list is about
//! 25 MB. [`parse_kept`] builds a [`Value`] holding only the kept paths and
//! skips everything else without allocating, so the result reads like the
//! whole object to code that uses `pointer`. Arrays are transparent: a path
//! through an array applies to each of its elements.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The paths to keep, as JSON pointers (`/metadata/name`, `~1` and `~0`
/// escaping `/` and `~`); a path keeps its whole subtree, and the empty
/// pointer `""` the whole object. Paths that are absent in an object are
/// simply absent in the result.
#[derive(Debug, Default)]
pub struct Keep {
    children: Vec<(String, Keep)>,
    /// This node is kept whole.
    whole: bool,
}

impl Keep {
    /// The tree of the given pointer paths.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut root = Keep::default();
        for path in paths {
            let mut node = &mut root;
            let tokens = path.strip_prefix('/').map(|rest| rest.split('/'));
            for token in tokens.into_iter().flatten() {
                let key = token.replace("~1", "/").replace("~0", "~");
                let i = match node.children.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        node.children.push((key, Keep::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[i].1;
            }
            node.whole = true;
        }
        root
    }

    fn child(&self, key: &str) -> Option<&Keep> {
        self.children
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, keep)| keep)
    }
}

/// Parses `text`, keeping only what `keep` names.
pub fn parse_kept(text: &str, keep: &Keep) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = keep.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

impl<'de> DeserializeSeed<'de> for &Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.whole {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &Keep {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.child(&key) {
                Some(keep) => {
                    let v = map.next_value_seed(keep)?;
                    out.insert(key.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // Arrays are transparent: `/spec/containers/name` keeps each
    // container's name.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
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
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// [`Value::pointer`] without its per-token allocations (it unescapes every
/// token into a new string), for code that reads many fields of many objects.
pub trait At {
    /// The value at `pointer`, as [`Value::pointer`] finds it.
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl At for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        kubefmt::kubectl::at(self, pointer)
    }
}

/// An object key, borrowed from the text unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_the_named_paths() {
        let text = r#"{"metadata":{"name":"p","managedFields":[{"x":1}],"labels":{"a":"b"}},
            "spec":{"nodeName":"n1","containers":[{"name":"c"}]},"status":{"phase":"Running"}}"#;
        let keep = Keep::new([
            "/metadata/name",
            "/metadata/labels",
            "/status",
            "/spec/nodeName",
        ]);
        assert_eq!(
            parse_kept(text, &keep).unwrap(),
            json!({"metadata": {"name": "p", "labels": {"a": "b"}},
                "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
        );
    }

    #[test]
    fn paths_through_arrays_apply_to_each_element() {
        let text = r#"{"spec":{"containers":[{"name":"a","env":[{"x":1}]},{"name":"b"}]}}"#;
        let keep = Keep::new(["/spec/containers/name"]);
        assert_eq!(
            parse_kept(text, &keep).unwrap(),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}})
        );
    }

    #[test]
    fn the_empty_pointer_keeps_everything_and_tokens_unescape() {
        let text = r#"{"a/b":1,"c~d":{"e":2},"f":3}"#;
        assert_eq!(
            parse_kept(text, &Keep::new([""])).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(
            parse_kept(text, &Keep::new(["/a~1b", "/c~0d/e"])).unwrap(),
            json!({"a/b": 1, "c~d": {"e": 2}})
        );
    }

    #[test]
    fn escaped_keys_and_absent_paths() {
        let keep = Keep::new(["/a\u{1}", "/b/c"]);
        assert_eq!(
            parse_kept(r#"{"a\u0001":"x","z":{"deep":[1,2]}}"#, &keep).unwrap(),
            json!({"a\u{1}": "x"})
        );
    }

    #[test]
    fn at_reads_like_pointer() {
        let v = json!({"a": {"b/c": 1, "d~e": 2, "f": [10, 11]}, "": {"": 3}});
        for p in [
            "", "/a", "/a/b~1c", "/a/d~0e", "/a/f/1", "/a/f/01", "/a/f/+1", "/a/f/9", "/a/x",
            "/a/f/x", "a", "/", "//", "/a/f/0/z",
        ] {
            assert_eq!(v.at(p), v.pointer(p), "{p}");
        }
    }

    #[test]
    fn invalid_json_is_an_error() {
        let keep = Keep::new(["/a"]);
        assert!(parse_kept(r#"{"a":1"#, &keep).is_err());
        assert!(parse_kept(r#"{"a":1} x"#, &keep).is_err());
        assert!(parse_kept(r#"{"b":[1,}"#, &keep).is_err());
    }
}
