//! Values between the store and PostgreSQL: [`Sql`] bound by the type the
//! server inferred for each parameter, columns read whatever their type,
//! the server's errors as [`StoreError`]s, and the store's `?N` parameters
//! as `$N`.

use std::error::Error as StdError;

use bytes::BytesMut;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

use crate::store::db::{unique_message, Sql};
use crate::store::StoreError;

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Sql {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Sql::Null => Ok(IsNull::Yes),
            Sql::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().to_sql(ty, out)
                }
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Sql::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => r.to_string().to_sql(ty, out),
                _ => Err(format!("a real cannot be bound as {ty}").into()),
            },
            Sql::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                // TEXT, VARCHAR, NAME, UNKNOWN...: the bytes as they are.
                _ => s.as_str().to_sql(ty, out),
            },
            Sql::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("bytes cannot be bound as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A column read whatever its type.
pub(super) struct Read(pub(super) Sql);

impl<'a> FromSql<'a> for Read {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Read(match *ty {
            Type::INT8 => Sql::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Sql::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Sql::Integer(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Sql::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Sql::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Sql::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Sql::Blob(raw.to_vec()),
            _ => Sql::Text(String::from_utf8(raw.to_vec())?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Read(Sql::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            if *db.code() == SqlState::UNIQUE_VIOLATION {
                // detail: "Key (org_id, name)=(acme, a) already exists."
                let column = db
                    .detail()
                    .and_then(|d| d.strip_prefix("Key ("))
                    .and_then(|d| d.split(")=").next())
                    .and_then(|cols| cols.rsplit(',').next())
                    .map(|c| c.trim().trim_matches('"').to_string())
                    .unwrap_or_else(|| "value".into());
                return StoreError::Conflict(unique_message(&column));
            }
            if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
                return StoreError::Conflict("the record is referenced by other records".into());
            }
        }
        // tokio-postgres says only "db error"; the server's code and message
        // are what an operator needs (the log's, never a caller's).
        match e.as_db_error() {
            Some(db) => {
                StoreError::Internal(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
            }
            None => StoreError::Internal(format!("PostgreSQL: {e}")),
        }
    }
}

/// `?1` -> `$1`, outside quoted strings and identifiers.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn numbered_parameters_become_dollars_outside_quotes() {
        assert_eq!(
            translate("SELECT \"a?1\", '?2' FROM t WHERE x = ?1 AND y = ?12"),
            "SELECT \"a?1\", '?2' FROM t WHERE x = $1 AND y = $12"
        );
        assert_eq!(
            translate("SELECT 1 WHERE 'it''s' = ?3"),
            "SELECT 1 WHERE 'it''s' = $3"
        );
    }
}
