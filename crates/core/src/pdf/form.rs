//! The document structure a seal touches: the page tree, the interactive form and its fields,
//! and the certification permissions (ISO 32000-2 sections 7.7.3, 12.7 and 12.8).

use std::collections::{BTreeMap, HashSet};

use super::object::{Dictionary, ObjRef, Object, decode_text, text_string};
use super::reader::{Document, MAX_OBJECT_NUMBER, XrefEntry, XrefKind, malformed};
use super::update::{Update, new_ref};
use super::{PdfError, Source};

/// Page trees with more nodes than this are not walked in full.
const MAX_PAGE_NODES: usize = 2_000_000;

/// Annotation flags Print (4) and Locked (128): printed with the page, never moved.
const WIDGET_FLAGS: i64 = 4 | 128;

/// Signatures exist (1) and the document must be updated incrementally (2).
const SIG_FLAGS: i64 = 1 | 2;

/// Where the seal goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldTarget {
    /// A new invisible signature field with a widget on the first page.
    New { name: String },
    /// An existing signature field that holds no signature yet.
    Existing { field: ObjRef, name: String },
}

impl FieldTarget {
    pub fn name(&self) -> &str {
        match self {
            Self::New { name } | Self::Existing { name, .. } => name,
        }
    }
}

/// How many of the page-tree nodes to visit next are announced to the source at a time.
const PREFETCH_NODES: usize = 32;

/// The first page, after checking that the whole page tree is a tree: a cycle is refused.
pub fn first_page<S: Source + ?Sized>(doc: &mut Document<'_, S>) -> Result<ObjRef, PdfError> {
    let (_, catalog) = doc.catalog()?;
    let Some(root) = catalog.reference(b"Pages") else {
        return Err(malformed(0, "the catalog's /Pages is not a reference"));
    };

    let mut first = None;
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        // The next nodes to visit are at the top of the stack: a remote source fetches them
        // together (a flat tree of a thousand pages would otherwise cost a thousand round
        // trips, one after the other).
        let next = stack.len().saturating_sub(PREFETCH_NODES);
        doc.prefetch(&stack[next..]);
        if !seen.insert(node.num) {
            return Err(PdfError::PageTreeCycle(node.num));
        }
        if seen.len() > MAX_PAGE_NODES {
            break;
        }
        let object = doc.get(node)?;
        let Some(dict) = object.as_dict() else {
            continue;
        };
        // A leaf is a /Page, or a node with neither /Type nor /Kids; a /Pages node without
        // /Kids is an empty subtree, never a page.
        let kids = match (dict.name(b"Type"), dict.get(b"Kids")) {
            (Some(b"Page"), _) | (None, None) => {
                first.get_or_insert(node);
                continue;
            }
            (_, Some(kids)) => doc.resolve(kids)?,
            (_, None) => continue,
        };
        let kids = kids.as_array().unwrap_or_default();
        // Pushed in reverse so that the first kid is visited first.
        stack.extend(kids.iter().rev().filter_map(Object::as_reference));
    }
    first.ok_or(PdfError::NoPages)
}

/// The DocMDP permission level of a certified document (ISO 32000-2 section 12.8.2.2), if any.
pub fn docmdp_permission<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
) -> Result<Option<i64>, PdfError> {
    let (_, catalog) = doc.catalog()?;
    let Some(perms) = catalog.get(b"Perms") else {
        return Ok(None);
    };
    let perms = doc.resolve(perms)?;
    let Some(signature) = perms.as_dict().and_then(|p| p.get(b"DocMDP")).cloned() else {
        return Ok(None);
    };
    let signature = doc.resolve(&signature)?;
    let Some(references) = signature
        .as_dict()
        .and_then(|s| s.get(b"Reference"))
        .cloned()
    else {
        return Ok(Some(2));
    };
    let references = doc.resolve(&references)?;
    for reference in references.as_array().unwrap_or_default() {
        let reference = doc.resolve(reference)?;
        let Some(reference) = reference.as_dict() else {
            continue;
        };
        if reference.name(b"TransformMethod") != Some(b"DocMDP") {
            continue;
        }
        let params = match reference.get(b"TransformParams") {
            Some(params) => doc.resolve(params)?,
            None => return Ok(Some(2)),
        };
        let level = params.as_dict().and_then(|p| p.get(b"P")).cloned();
        let level = match level {
            Some(level) => doc.resolve(&level)?.as_integer(),
            None => None,
        };
        return Ok(Some(level.unwrap_or(2)));
    }
    Ok(Some(2))
}

/// Chooses the field: the requested name (an empty signature field of that name is filled), or
/// the first free `Seal<n>`. `Err(Ok(reason))` refuses the request.
pub fn choose_field<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
    requested: Option<&str>,
) -> Result<Result<FieldTarget, String>, PdfError> {
    let fields = top_level_fields(doc)?;
    let Some(name) = requested else {
        let taken: HashSet<&str> = fields.iter().map(|(_, name, _)| name.as_str()).collect();
        let name = (1..)
            .map(|n| format!("Seal{n}"))
            .find(|n| !taken.contains(n.as_str()));
        return Ok(Ok(FieldTarget::New {
            name: name.unwrap_or_default(),
        }));
    };

    if name.is_empty() || name.contains('.') {
        return Ok(Err(format!(
            "field name {name:?} must be non-empty and contain no period"
        )));
    }
    let Some((field, _, dict)) = fields.into_iter().find(|(_, n, _)| n == name) else {
        return Ok(Ok(FieldTarget::New {
            name: name.to_string(),
        }));
    };
    if dict.name(b"FT") != Some(b"Sig") {
        return Ok(Err(format!(
            "a field named {name:?} exists and is not a signature field"
        )));
    }
    if dict.get(b"V").is_some() {
        return Ok(Err(format!(
            "the signature field {name:?} is already signed"
        )));
    }
    match field {
        Some(field) => Ok(Ok(FieldTarget::Existing {
            field,
            name: name.to_string(),
        })),
        None => Ok(Err(format!(
            "the signature field {name:?} is not an indirect object"
        ))),
    }
}

/// A top-level field: its reference (when indirect), partial name and dictionary.
type Field = (Option<ObjRef>, String, Dictionary);

/// The top-level fields of the form: reference (when indirect), partial name and dictionary.
fn top_level_fields<S: Source + ?Sized>(doc: &mut Document<'_, S>) -> Result<Vec<Field>, PdfError> {
    let (_, catalog) = doc.catalog()?;
    let Some(form) = catalog.get(b"AcroForm") else {
        return Ok(Vec::new());
    };
    let form = doc.resolve(form)?;
    let Some(fields) = form.as_dict().and_then(|f| f.get(b"Fields")).cloned() else {
        return Ok(Vec::new());
    };
    let fields = doc.resolve(&fields)?;
    let mut found = Vec::new();
    for field in fields.as_array().unwrap_or_default() {
        let resolved = doc.resolve(field)?;
        let Some(dict) = resolved.as_dict() else {
            continue;
        };
        let name = match dict.get(b"T") {
            Some(Object::String(name)) => decode_text(name),
            _ => continue,
        };
        found.push((field.as_reference(), name, dict.clone()));
    }
    Ok(found)
}

/// Builds the update that adds the signature dictionary `signature` in `target`; a new field's
/// widget goes on `page`, the first page as [`first_page`] found it.
pub fn build_update<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
    target: &FieldTarget,
    page: ObjRef,
    signature: Dictionary,
) -> Result<Update, PdfError> {
    let mut next = doc.next_object_number();
    if next > MAX_OBJECT_NUMBER - 8 {
        return Err(malformed(
            0,
            "the document uses the highest object numbers a PDF may have",
        ));
    }
    let mut allocate = || {
        next += 1;
        next - 1
    };
    let sig_num = allocate();
    let mut objects: BTreeMap<u32, (u16, Object)> = BTreeMap::new();
    let (catalog_ref, catalog) = doc.catalog()?;

    let new_field = match target {
        FieldTarget::New { name } => {
            let widget = new_ref(allocate());
            objects.insert(
                widget.num,
                (0, Object::Dictionary(widget_dict(name, sig_num, page))),
            );
            add_to_array(doc, &mut objects, page, b"Annots", widget)?;
            Some(widget)
        }
        FieldTarget::Existing { field, .. } => {
            let mut dict = doc.get(*field)?.as_dict().cloned().unwrap_or_default();
            dict.set(b"V", Object::Reference(new_ref(sig_num)));
            objects.insert(field.num, (field.generation, Object::Dictionary(dict)));
            None
        }
    };
    update_form(
        doc,
        &mut objects,
        &mut allocate,
        (catalog_ref, catalog),
        new_field,
    )?;

    let next_number = allocate();
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Some(value) = doc.trailer().get(key) {
            trailer.set(key, value.clone());
        }
    }
    let (xref_kind, prev, carried_entries) = match doc.last_section() {
        Some((offset, kind)) => (kind, Some(offset), Vec::new()),
        None => recovered_section(doc, &objects),
    };
    Ok(Update {
        objects,
        signature: (sig_num, signature),
        xref_kind,
        prev,
        trailer,
        next_number,
        carried_entries,
    })
}

/// After a recovery the new section lists every object; object streams need a stream section.
fn recovered_section<S: Source + ?Sized>(
    doc: &Document<'_, S>,
    objects: &BTreeMap<u32, (u16, Object)>,
) -> (XrefKind, Option<u64>, Vec<(u32, XrefEntry)>) {
    let mut carried: Vec<(u32, XrefEntry)> = doc
        .entries()
        .iter()
        .filter(|(num, _)| !objects.contains_key(num))
        .map(|(&num, &entry)| (num, entry))
        .collect();
    carried.sort_unstable_by_key(|(num, _)| *num);
    let compressed = carried
        .iter()
        .any(|(_, e)| matches!(e, XrefEntry::InStream { .. }));
    let kind = if compressed {
        XrefKind::Stream
    } else {
        XrefKind::Table
    };
    (kind, None, carried)
}

fn widget_dict(name: &str, sig_num: u32, page: ObjRef) -> Dictionary {
    let mut widget = Dictionary::new();
    widget.set(b"Type", Object::name("Annot"));
    widget.set(b"Subtype", Object::name("Widget"));
    widget.set(b"FT", Object::name("Sig"));
    widget.set(b"T", text_string(name));
    widget.set(b"V", Object::Reference(new_ref(sig_num)));
    let zero = || Object::Integer(0);
    widget.set(b"Rect", Object::Array(vec![zero(), zero(), zero(), zero()]));
    widget.set(b"F", Object::Integer(WIDGET_FLAGS));
    widget.set(b"P", Object::Reference(page));
    widget
}

/// Appends `item` to the array at `key` of the object `owner`: a missing array is created, a
/// direct one rewritten with its owner, an indirect one rewritten on its own.
fn add_to_array<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
    objects: &mut BTreeMap<u32, (u16, Object)>,
    owner: ObjRef,
    key: &[u8],
    item: ObjRef,
) -> Result<(), PdfError> {
    let mut dict = current(doc, objects, owner)?
        .as_dict()
        .cloned()
        .unwrap_or_default();
    match dict.get(key).cloned() {
        Some(Object::Reference(array_ref)) => {
            if let Object::Array(mut items) = current(doc, objects, array_ref)? {
                items.push(Object::Reference(item));
                objects.insert(array_ref.num, (array_ref.generation, Object::Array(items)));
                return Ok(());
            }
            dict.set(key, Object::Array(vec![Object::Reference(item)]));
        }
        Some(Object::Array(mut items)) => {
            items.push(Object::Reference(item));
            dict.set(key, Object::Array(items));
        }
        _ => dict.set(key, Object::Array(vec![Object::Reference(item)])),
    }
    objects.insert(owner.num, (owner.generation, Object::Dictionary(dict)));
    Ok(())
}

/// The object as the update will leave it.
fn current<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
    objects: &BTreeMap<u32, (u16, Object)>,
    reference: ObjRef,
) -> Result<Object, PdfError> {
    match objects.get(&reference.num) {
        Some((_, object)) => Ok(object.clone()),
        None => doc.get(reference),
    }
}

/// Creates or merges the interactive form: existing /Fields kept, the new field added, /SigFlags
/// set to 3.
fn update_form<S: Source + ?Sized>(
    doc: &mut Document<'_, S>,
    objects: &mut BTreeMap<u32, (u16, Object)>,
    allocate: &mut impl FnMut() -> u32,
    (catalog_ref, mut catalog): (ObjRef, Dictionary),
    new_field: Option<ObjRef>,
) -> Result<(), PdfError> {
    let form_ref = match catalog.get(b"AcroForm") {
        Some(Object::Reference(form_ref)) if doc.get(*form_ref)?.as_dict().is_some() => *form_ref,
        Some(Object::Dictionary(direct)) => {
            // A direct form dictionary moves into an object of its own.
            let form_ref = new_ref(allocate());
            objects.insert(form_ref.num, (0, Object::Dictionary(direct.clone())));
            catalog.set(b"AcroForm", Object::Reference(form_ref));
            objects.insert(
                catalog_ref.num,
                (catalog_ref.generation, Object::Dictionary(catalog)),
            );
            form_ref
        }
        _ => {
            let form_ref = new_ref(allocate());
            objects.insert(form_ref.num, (0, Object::Dictionary(Dictionary::new())));
            catalog.set(b"AcroForm", Object::Reference(form_ref));
            objects.insert(
                catalog_ref.num,
                (catalog_ref.generation, Object::Dictionary(catalog)),
            );
            form_ref
        }
    };

    if let Some(field) = new_field {
        add_to_array(doc, objects, form_ref, b"Fields", field)?;
    }
    let mut form = current(doc, objects, form_ref)?
        .as_dict()
        .cloned()
        .unwrap_or_default();
    if form.get(b"Fields").is_none() {
        form.set(b"Fields", Object::Array(Vec::new()));
    }
    let flags = match form.get(b"SigFlags") {
        Some(flags) => doc.resolve(flags)?.as_integer().unwrap_or(0),
        None => 0,
    };
    form.set(b"SigFlags", Object::Integer(flags | SIG_FLAGS));
    objects.insert(
        form_ref.num,
        (form_ref.generation, Object::Dictionary(form)),
    );
    Ok(())
}
