//! The struct being derived, read into a typed model (its own `#[health]`
//! attributes are read by `attr::parse_container`, which the fallback needs too).

use syn::{Data, DeriveInput, Fields, Generics, Ident, Type};

use super::attr::{self, FieldAttrs};
use crate::errors::Errors;

pub struct Input<'a> {
    pub ident: &'a Ident,
    pub generics: &'a Generics,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
}

const EXPECTED: &str = "#[derive(HealthCheck)] expects a struct with named fields, each a health check";

impl<'a> Input<'a> {
    /// The model, or `None` (with errors recorded) when the item cannot be one.
    pub fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
        let data = match &input.data {
            Data::Struct(data) => data,
            Data::Enum(data) => {
                errors.push(syn::Error::new(data.enum_token.span, format!("{EXPECTED}, found an enum")));
                return None;
            }
            Data::Union(data) => {
                errors.push(syn::Error::new(data.union_token.span, format!("{EXPECTED}, found a union")));
                return None;
            }
        };
        let named = match &data.fields {
            Fields::Named(named) => named,
            Fields::Unnamed(unnamed) => {
                errors.push(syn::Error::new(
                    unnamed.paren_token.span.join(),
                    format!("{EXPECTED}, found a tuple struct: name the fields"),
                ));
                return None;
            }
            Fields::Unit => {
                errors.push(syn::Error::new(
                    input.ident.span(),
                    "#[derive(HealthCheck)] expects at least one field, found a unit struct",
                ));
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|f| {
                Some(Field { ident: f.ident.as_ref()?, ty: &f.ty, attrs: attr::parse_field(&f.attrs, errors) })
            })
            .collect();
        Some(Input { ident: &input.ident, generics: &input.generics, fields })
    }
}
