//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`), read
//! into the JSON the rest of the server works with.
//!
//! kubectl's typed generators (`kubectl create deployment|namespace|configmap|
//! secret|serviceaccount|service|job|cronjob|poddisruptionbudget|quota|role|
//! clusterrole|rolebinding|clusterrolebinding`), `kubectl create token` and
//! `kubectl auth can-i|whoami` send their object as protobuf: the magic `k8s\0`, then a `runtime.Unknown` whose
//! `typeMeta` names the kind and whose `raw` holds the object's message. The
//! message is read with the kind's table ([`schema`]) into the object Go's
//! JSON encoder would write for the same value: field names as in JSON,
//! `int64` as numbers, quantities, times and int-or-strings in their JSON
//! forms, zero values of non-pointer fields left out (Go always encodes
//! those, and its `omitempty` drops them from JSON).
//!
//! What the tables do not know is refused, never dropped: a kind without a
//! table gets `415` naming it, a field number a message does not list holding
//! a value gets `415` naming both (statuses excepted: the server ignores
//! them), and a malformed body gets `400`.

pub mod schema;

use base64::Engine as _;
use prost::encoding::decode_varint;
use serde_json::{Map, Value};

use schema::{Field, Msg, Ty};

/// What every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";
/// Messages nested deeper than this are refused (the tables nest about 10).
const MAX_DEPTH: usize = 32;
/// `time.Time{}.Unix()`: the zero time, which Go writes as JSON `null`.
const ZERO_TIME: i64 = -62_135_596_800;

/// Why a protobuf body was not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("provided protobuf does not start with the magic prefix \"k8s\\x00\"")]
    Magic,
    #[error("malformed protobuf in {0}")]
    Malformed(&'static str),
    #[error("field {0} of {1} is not valid UTF-8")]
    Utf8(&'static str, &'static str),
    #[error("the simulated API server reads protobuf bodies of {served}, not {got}; send it as JSON or YAML (kubectl create -f)")]
    Kind { got: String, served: String },
    #[error("field number {num} of {msg} is not read by the simulated API server; send the object as JSON or YAML (kubectl create -f)")]
    Field { msg: &'static str, num: u32 },
    #[error("protobuf content encoding {0:?} is not supported")]
    Encoding(String),
    #[error("protobuf nested more than {MAX_DEPTH} messages deep")]
    Depth,
}

impl ProtoError {
    /// Whether the body was well-formed but of a kind or with a field the
    /// tables lack (`415`), rather than malformed (`400`).
    pub fn unsupported(&self) -> bool {
        matches!(self, ProtoError::Kind { .. } | ProtoError::Field { .. })
    }
}

/// The object a protobuf body carries, as JSON with `apiVersion` and `kind`.
pub fn to_json(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtoError::Magic)?;
    let (mut api_version, mut kind, mut raw, mut encoding) =
        (String::new(), String::new(), &[][..], String::new());
    let mut r = Reader::new(rest, "runtime.Unknown");
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Len(meta)) => {
                let mut m = Reader::new(meta, "runtime.TypeMeta");
                while let Some((num, wire)) = m.next()? {
                    match (num, wire) {
                        (1, Wire::Len(b)) => api_version = text(b, "apiVersion", "TypeMeta")?,
                        (2, Wire::Len(b)) => kind = text(b, "kind", "TypeMeta")?,
                        _ => return Err(ProtoError::Malformed("runtime.TypeMeta")),
                    }
                }
            }
            (2, Wire::Len(b)) => raw = b,
            (3, Wire::Len(b)) => encoding = text(b, "contentEncoding", "runtime.Unknown")?,
            (4, Wire::Len(_)) => {}
            _ => return Err(ProtoError::Malformed("runtime.Unknown")),
        }
    }
    if !encoding.is_empty() {
        return Err(ProtoError::Encoding(encoding));
    }
    let msg = schema::root(&api_version, &kind).ok_or_else(|| ProtoError::Kind {
        got: format!("{api_version}, Kind={kind}"),
        served: schema::ROOTS
            .iter()
            .map(|(_, kind, _)| *kind)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    message(msg, raw, &mut object, 0)?;
    Ok(Value::Object(object))
}

/// One field's payload on the wire.
#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    /// A fixed 32- or 64-bit value (no Kubernetes field uses one).
    Fixed,
}

/// Reads the fields of one message.
struct Reader<'a> {
    buf: &'a [u8],
    msg: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], msg: &'static str) -> Self {
        Reader { buf, msg }
    }

    fn malformed(&self) -> ProtoError {
        ProtoError::Malformed(self.msg)
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        decode_varint(&mut self.buf).map_err(|_| self.malformed())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if n > self.buf.len() {
            return Err(self.malformed());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next field's number and payload, or `None` at the end.
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, ProtoError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let num = u32::try_from(key >> 3).map_err(|_| self.malformed())?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| self.malformed())?;
                Wire::Len(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(self.malformed()),
        };
        if num == 0 {
            return Err(self.malformed());
        }
        Ok(Some((num, wire)))
    }
}

/// `bytes` as JSON writes them: standard base64.
fn bytes(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

fn text(b: &[u8], field: &'static str, msg: &'static str) -> Result<String, ProtoError> {
    String::from_utf8(b.to_vec()).map_err(|_| ProtoError::Utf8(field, msg))
}

/// Reads `buf`, a `msg`, into `out`.
fn message(
    msg: &'static Msg,
    buf: &[u8],
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::Depth);
    }
    let mut r = Reader::new(buf, msg.name);
    while let Some((num, wire)) = r.next()? {
        let Some(field) = msg.field(num) else {
            // Go encodes every non-pointer field, set or not: an unlisted
            // field holding its zero value says nothing.
            if msg.lenient || zero_payload(wire) {
                continue;
            }
            return Err(ProtoError::Field { msg: msg.name, num });
        };
        match field.ty {
            Ty::Inline(inner) => {
                let Wire::Len(b) = wire else {
                    return Err(r.malformed());
                };
                message(inner, b, out, depth + 1)?;
            }
            Ty::MapStr | Ty::MapBytes | Ty::MapQuantity => {
                let Wire::Len(b) = wire else {
                    return Err(r.malformed());
                };
                let (key, value) = entry(field, b)?;
                let map = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
            }
            _ if field.list => {
                let values = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(values) = values else {
                    continue;
                };
                match (field.ty, wire) {
                    // A packed list of numbers or booleans.
                    (Ty::I32 | Ty::I64 | Ty::Bool, Wire::Len(b)) => {
                        let mut p = Reader::new(b, msg.name);
                        while !p.buf.is_empty() {
                            let v = p.varint()?;
                            values.push(value(field, msg, Wire::Varint(v), depth)?);
                        }
                    }
                    _ => values.push(value(field, msg, wire, depth)?),
                }
            }
            _ => {
                let v = value(field, msg, wire, depth)?;
                if field.ptr || !is_zero(&v) {
                    out.insert(field.name.into(), v);
                } else {
                    out.remove(field.name);
                }
            }
        }
    }
    Ok(())
}

/// Whether a payload is a zero scalar or an empty string, list or message.
fn zero_payload(wire: Wire<'_>) -> bool {
    match wire {
        Wire::Varint(v) => v == 0,
        Wire::Len(b) => b.is_empty(),
        Wire::Fixed => false,
    }
}

/// Whether Go's `omitempty` leaves `v` out of JSON (objects are structs,
/// which it never leaves out).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// One value of `field` (of `msg`) from its payload.
fn value(
    field: &Field,
    msg: &'static Msg,
    wire: Wire<'_>,
    depth: usize,
) -> Result<Value, ProtoError> {
    let bad = || ProtoError::Malformed(msg.name);
    Ok(match (field.ty, wire) {
        (Ty::Str, Wire::Len(b)) => Value::String(text(b, field.name, msg.name)?),
        (Ty::Bytes, Wire::Len(b)) => bytes(b),
        (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // Negative numbers are sign-extended to ten bytes on the wire.
        (Ty::I32, Wire::Varint(v)) => Value::from(v as i32),
        (Ty::I64, Wire::Varint(v)) => Value::from(v as i64),
        (Ty::Msg(inner), Wire::Len(b)) => {
            let mut object = Map::new();
            message(inner, b, &mut object, depth + 1)?;
            Value::Object(object)
        }
        (Ty::Time, Wire::Len(b)) => time(b, false)?,
        (Ty::MicroTime, Wire::Len(b)) => time(b, true)?,
        (Ty::Quantity, Wire::Len(b)) => Value::String(quantity(b)?),
        (Ty::IntOrString, Wire::Len(b)) => int_or_string(b)?,
        _ => return Err(bad()),
    })
}

/// A map entry: `key = 1`, `value = 2`.
fn entry(field: &Field, b: &[u8]) -> Result<(String, Value), ProtoError> {
    let mut r = Reader::new(b, "map entry");
    let (mut key, mut value) = (String::new(), None);
    while let Some((num, wire)) = r.next()? {
        match (num, wire, field.ty) {
            (1, Wire::Len(b), _) => key = text(b, field.name, "map entry")?,
            (2, Wire::Len(b), Ty::MapStr) => {
                value = Some(Value::String(text(b, field.name, "map entry")?))
            }
            (2, Wire::Len(b), Ty::MapBytes) => value = Some(bytes(b)),
            (2, Wire::Len(b), Ty::MapQuantity) => value = Some(Value::String(quantity(b)?)),
            _ => return Err(r.malformed()),
        }
    }
    Ok((key, value.unwrap_or_else(|| Value::String(String::new()))))
}

/// `api.resource.Quantity`: `string = 1`.
fn quantity(b: &[u8]) -> Result<String, ProtoError> {
    let mut r = Reader::new(b, "Quantity");
    let mut s = String::new();
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Len(b)) => s = text(b, "string", "Quantity")?,
            _ => return Err(r.malformed()),
        }
    }
    Ok(s)
}

/// `util.intstr.IntOrString`: `type = 1` (0 int, 1 string), `intVal = 2`,
/// `strVal = 3`.
fn int_or_string(b: &[u8]) -> Result<Value, ProtoError> {
    let mut r = Reader::new(b, "IntOrString");
    let (mut is_string, mut int, mut string) = (false, 0i32, String::new());
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Varint(v)) => is_string = v == 1,
            (2, Wire::Varint(v)) => int = v as i32,
            (3, Wire::Len(b)) => string = text(b, "strVal", "IntOrString")?,
            _ => return Err(r.malformed()),
        }
    }
    Ok(if is_string {
        Value::String(string)
    } else {
        Value::from(int)
    })
}

/// `meta.v1.Time` / `MicroTime`: `seconds = 1`, `nanos = 2`; RFC 3339 in
/// UTC, the zero time `null`.
fn time(b: &[u8], micro: bool) -> Result<Value, ProtoError> {
    let mut r = Reader::new(b, "Time");
    let (mut seconds, mut nanos) = (0i64, 0i32);
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(v)) => nanos = v as i32,
            _ => return Err(r.malformed()),
        }
    }
    if seconds == ZERO_TIME && nanos == 0 {
        return Ok(Value::Null);
    }
    let nanos = u32::try_from(nanos).map_err(|_| r.malformed())?;
    let t = chrono::DateTime::from_timestamp(seconds, nanos).ok_or_else(|| r.malformed())?;
    let format = if micro {
        chrono::SecondsFormat::Micros
    } else {
        chrono::SecondsFormat::Secs
    };
    Ok(Value::String(t.to_rfc3339_opts(format, true)))
}

#[cfg(test)]
mod tests;
