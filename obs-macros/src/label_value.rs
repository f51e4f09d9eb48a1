//! `#[derive(LabelValue)]`: a fieldless enum as a metric label whose values are
//! all known at build time, so every series it spans is registered at `init`.
//! Each variant's value is its name in snake_case, or `#[label(rename = "...")]`.
//! One container attribute, `#[label(crate = path)]`, says where `obs_runtime`
//! is when another crate re-exports it.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Path};

use crate::args::{self, Key, RawArg};
use crate::error_kind::snake_case;
use crate::errors::Errors;

#[derive(Default)]
struct ContainerAttrs {
    krate: Option<Path>,
}

#[derive(Default)]
struct VariantAttrs {
    rename: Option<LitStr>,
}

fn container_keys() -> [Key<ContainerAttrs>; 1] {
    [Key::new("crate", |arg, a| {
        a.krate = Some(arg.path()?);
        Ok(())
    })]
}

fn variant_keys() -> [Key<VariantAttrs>; 1] {
    [Key::new("rename", |arg: &RawArg, a: &mut VariantAttrs| {
        a.rename = Some(arg.str()?);
        Ok(())
    })]
}

pub fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();
    let container = label_attrs(&input.attrs, &container_keys(), &mut errors);
    let expanded = expand(&input, container.krate.as_ref(), &mut errors);
    let mut out = errors.into_compile_error();
    out.extend(expanded);
    Ok(out)
}

/// Every `#[label(...)]` among `attrs`, read as one argument list against `keys`.
fn label_attrs<T: Default>(attrs: &[Attribute], keys: &[Key<T>], errors: &mut Errors) -> T {
    let mut given = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("label")) {
        match attr.meta.require_list() {
            Ok(list) => given.extend(args::parse_list(list.tokens.clone(), errors)),
            Err(_) => errors.push(syn::Error::new_spanned(
                attr.path(),
                format!("expected arguments, as in `#[label(...)]`; known: {}", args::key_names(keys)),
            )),
        }
    }
    let mut out = T::default();
    args::apply(given, keys, &mut out, errors);
    out
}

fn expand(input: &DeriveInput, krate: Option<&Path>, errors: &mut Errors) -> Option<TokenStream> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            errors.push(syn::Error::new(
                s.struct_token.span,
                "#[derive(LabelValue)] needs an enum whose variants have no fields: a struct has no fixed set of values",
            ));
            return None;
        }
        Data::Union(u) => {
            errors.push(syn::Error::new(u.union_token.span, "#[derive(LabelValue)] needs an enum, not a union"));
            return None;
        }
    };
    if data.variants.is_empty() {
        errors.push(syn::Error::new(input.ident.span(), "#[derive(LabelValue)] needs at least one variant"));
        return None;
    }
    let mut values: Vec<(String, proc_macro2::Span)> = Vec::new();
    let mut arms = Vec::new();
    let mut fields = false;
    for (index, variant) in data.variants.iter().enumerate() {
        if !matches!(variant.fields, Fields::Unit) {
            fields = true;
            errors.push(syn::Error::new(
                variant.fields.span(),
                format!(
                    "#[derive(LabelValue)] needs variants without fields: `{}` has some, and each field value would be another series",
                    variant.ident
                ),
            ));
        }
        let attrs = label_attrs(&variant.attrs, &variant_keys(), errors);
        let (value, span) = match &attrs.rename {
            Some(rename) => (rename.value(), rename.span()),
            None => (snake_case(&variant.ident.to_string()), variant.ident.span()),
        };
        if values.iter().any(|(v, _)| *v == value) {
            errors.push(syn::Error::new(span, format!("two variants have the label value \"{value}\"")));
        }
        values.push((value, span));
        let name = &variant.ident;
        arms.push(quote!(Self::#name => #index,));
    }
    if fields {
        return None;
    }
    let rt = crate::expand::runtime_path(krate);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let values = values.iter().map(|(v, _)| v);
    Some(quote! {
        impl #impl_generics #rt::LabelValue for #ident #ty_generics #where_clause {
            const VALUES: &'static [&'static str] = &[#(#values),*];
            #[inline]
            fn index(&self) -> usize {
                match self { #(#arms)* }
            }
        }
        impl #impl_generics #rt::__private::LabelDigit for #ident #ty_generics #where_clause {
            type Kind = #rt::__private::Bounded<Self>;
            #[inline(always)]
            fn label_ref(&self) -> #rt::__private::LabelRef<'_> {
                #rt::__private::LabelRef::bounded(<Self as #rt::LabelValue>::VALUES, #rt::LabelValue::index(self))
            }
        }
    })
}
