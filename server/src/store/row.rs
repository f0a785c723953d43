//! `row!`: a struct read from a query row by column name.
//!
//! It writes what `#[derive(sqlx::FromRow)]` would (a `FromRow` impl for
//! any backend's row whose columns decode into the fields), without sqlx's
//! proc macros: those compile sqlx, both drivers, TLS and SQLite's C code a
//! second time for the build host, about two minutes of a cold release
//! build on two cores. A first field marked `#[flatten]` is read from the
//! same row by its own `FromRow`.

macro_rules! row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            #[flatten]
            $inner_vis:vis $inner:ident : $inner_ty:ty,
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $inner_vis $inner: $inner_ty,
            $( $(#[$field_meta])* $field_vis $field: $ty, )*
        }

        impl<'r, R: ::sqlx::Row> ::sqlx::FromRow<'r, R> for $name
        where
            &'r str: ::sqlx::ColumnIndex<R>,
            $inner_ty: ::sqlx::FromRow<'r, R>,
            $( $ty: ::sqlx::Decode<'r, R::Database> + ::sqlx::Type<R::Database>, )*
        {
            fn from_row(row: &'r R) -> ::std::result::Result<Self, ::sqlx::Error> {
                Ok(Self {
                    $inner: <$inner_ty as ::sqlx::FromRow<'r, R>>::from_row(row)?,
                    $( $field: row.try_get(stringify!($field))?, )*
                })
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty, )*
        }

        impl<'r, R: ::sqlx::Row> ::sqlx::FromRow<'r, R> for $name
        where
            &'r str: ::sqlx::ColumnIndex<R>,
            $( $ty: ::sqlx::Decode<'r, R::Database> + ::sqlx::Type<R::Database>, )*
        {
            fn from_row(row: &'r R) -> ::std::result::Result<Self, ::sqlx::Error> {
                Ok(Self { $( $field: row.try_get(stringify!($field))?, )* })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    row! {
        #[derive(Debug, PartialEq)]
        struct Inner {
            /// A documented field.
            id: i64,
            name: String,
        }
    }

    row! {
        #[derive(Debug, PartialEq)]
        struct Outer {
            #[flatten]
            inner: Inner,
            note: Option<String>,
            on: bool,
        }
    }

    #[tokio::test]
    async fn reads_columns_by_name_and_flattens() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let row: Outer =
            sqlx::query_as("SELECT 1 AS on, NULL AS note, 'a' AS name, 7 AS id").fetch_one(&mut conn).await.unwrap();
        assert_eq!(row, Outer { inner: Inner { id: 7, name: "a".into() }, note: None, on: true });
        let missing = sqlx::query_as::<_, Inner>("SELECT 7 AS id").fetch_one(&mut conn).await;
        assert!(matches!(&missing, Err(sqlx::Error::ColumnNotFound(c)) if c == "name"), "{missing:?}");
    }
}
