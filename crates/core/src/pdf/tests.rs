//! The reader on small hand-made files: each builds a document whose offsets are computed here.

use super::reader::{Document, XrefKind};
use super::{ObjRef, Object, PdfError, form};

/// Writes `objects` (numbered from 1) with a classic table; `tweak` may alter the offsets.
fn with_table(objects: &[&str], trailer_extra: &str, tweak: impl Fn(u64) -> u64) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len() as u64);
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len() as u64;
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{:010} 00000 n \n", tweak(offset)).as_bytes());
    }
    let size = objects.len() + 1;
    out.extend_from_slice(
        format!("trailer\n<</Size {size}/Root 1 0 R{trailer_extra}>>\n").as_bytes(),
    );
    out.extend_from_slice(format!("startxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

const CATALOG: &str = "<</Type/Catalog/Pages 2 0 R>>";
const PAGES: &str = "<</Type/Pages/Kids[3 0 R]/Count 1>>";
const PAGE: &str = "<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>";

#[test]
fn reads_a_classic_table_and_finds_the_first_page() {
    let file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o);
    let mut doc = Document::open(&file[..]).unwrap();
    assert!(!doc.recovered());
    assert_eq!(doc.last_section().unwrap().1, XrefKind::Table);
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
    assert_eq!(doc.next_object_number(), 4);
}

#[test]
fn corrects_a_startxref_that_is_a_few_bytes_off() {
    let mut file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o);
    let text = String::from_utf8(file.clone()).unwrap();
    let xref = text.find("xref\n0").unwrap();
    let wrong = format!("startxref\n{}\n", xref - 2);
    let right = format!("startxref\n{xref}\n");
    file = text.replace(&right, &wrong).into_bytes();
    let doc = Document::open(&file[..]).unwrap();
    assert!(!doc.recovered());
    assert_eq!(doc.last_section(), Some((xref as u64, XrefKind::Table)));
}

#[test]
fn recovers_when_entries_point_at_the_wrong_bytes() {
    let file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o + 3);
    let mut doc = Document::open(&file[..]).unwrap();
    assert!(doc.recovered());
    assert_eq!(doc.last_section(), None);
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
}

#[test]
fn reads_an_uncompressed_cross_reference_stream() {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in [CATALOG, PAGES, PAGE].iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let at = out.len();
    offsets.push(at);
    let mut data = vec![0u8, 0, 0];
    for offset in &offsets {
        data.extend_from_slice(&[1, (offset >> 8) as u8, *offset as u8]);
    }
    out.extend_from_slice(
        format!(
            "4 0 obj\n<</Type/XRef/Size 5/W[1 2 0]/Root 1 0 R/Length {}>>stream\n",
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{at}\n%%EOF").as_bytes());

    let mut doc = Document::open(&out[..]).unwrap();
    assert!(!doc.recovered());
    assert_eq!(doc.last_section(), Some((at as u64, XrefKind::Stream)));
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
}

#[test]
fn refuses_encrypted_documents_with_their_own_cause() {
    let file = with_table(&[CATALOG, PAGES, PAGE], "/Encrypt 9 0 R", |o| o);
    assert!(matches!(
        Document::open(&file[..]),
        Err(PdfError::Encrypted)
    ));
}

#[test]
fn input_without_a_header_is_not_a_pdf() {
    assert!(matches!(
        Document::open(&b"hello"[..]),
        Err(PdfError::NotPdf(_))
    ));
    assert!(matches!(Document::open(&b""[..]), Err(PdfError::NotPdf(_))));
}

#[test]
fn a_page_tree_cycle_is_refused_quickly() {
    let pages = "<</Type/Pages/Kids[3 0 R 2 0 R]/Count 2>>";
    let file = with_table(&[CATALOG, pages, PAGE], "", |o| o);
    let mut doc = Document::open(&file[..]).unwrap();
    assert!(matches!(
        form::first_page(&mut doc),
        Err(PdfError::PageTreeCycle(2))
    ));
}

#[test]
fn a_truncated_file_is_malformed_not_a_panic() {
    let file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o);
    for cut in [10, 30, file.len() / 2, file.len() - 10] {
        match Document::open(&file[..cut]) {
            Err(PdfError::Malformed { .. }) => {}
            Ok(mut doc) => assert!(form::first_page(&mut doc).is_err() || doc.recovered()),
            Err(other) => panic!("cut at {cut}: {other}"),
        }
    }
}

#[test]
fn an_indirect_annots_array_is_rewritten_on_its_own() {
    let page = "<</Type/Page/Parent 2 0 R/Annots 4 0 R>>";
    let file = with_table(&[CATALOG, PAGES, page, "[]"], "", |o| o);
    let mut doc = Document::open(&file[..]).unwrap();
    let target = form::FieldTarget::New {
        name: "Seal1".into(),
    };
    let page = form::first_page(&mut doc).unwrap();
    let update = form::build_update(&mut doc, &target, page, Default::default()).unwrap();
    assert!(
        !update.objects.contains_key(&3),
        "the page itself stays as it was"
    );
    let (_, annots) = &update.objects[&4];
    assert_eq!(annots.as_array().map(<[Object]>::len), Some(1));
}

#[test]
fn an_object_stream_whose_length_lies_inside_itself_is_refused_not_a_stack_overflow() {
    let mut out = b"%PDF-1.7\n".to_vec();
    let objstm_at = out.len();
    let members = format!(
        "1 0 2 {} 3 {} ",
        CATALOG.len() + 1,
        CATALOG.len() + PAGES.len() + 2
    );
    let body = format!("{members}{CATALOG} {PAGES} {PAGE}");
    out.extend_from_slice(
        format!("4 0 obj\n<</Type/ObjStm/N 3/First {}/Length 5 0 R>>stream\n{body}\nendstream\nendobj\n", members.len())
            .as_bytes(),
    );
    let xref_at = out.len();
    assert!(xref_at < 256, "offsets must fit the one-byte /W field");
    let mut data = Vec::new();
    data.extend_from_slice(&[0, 0, 0]);
    for index in 0..3u8 {
        data.extend_from_slice(&[2, 4, index]);
    }
    data.extend_from_slice(&[1, objstm_at as u8, 0]);
    data.extend_from_slice(&[2, 4, 3]);
    data.extend_from_slice(&[1, xref_at as u8, 0]);
    out.extend_from_slice(
        format!(
            "6 0 obj\n<</Type/XRef/Size 7/W[1 1 1]/Root 1 0 R/Length {}>>stream\n",
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF").as_bytes());

    // Object 5, the stream's /Length, is said to live in the stream itself: the entry cannot
    // be used, so the reader recovers by a scan, which finds the data's end by `endstream`.
    let mut doc = Document::open(&out[..]).unwrap();
    assert!(doc.recovered());
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
}

#[test]
fn many_unterminated_objects_without_a_cross_reference_table_are_refused_in_linear_time() {
    // Every object opens a string that never closes: each parse runs to the next header, never
    // to the end of the file, or the scan would cost the square of the file's size.
    let mut file = b"%PDF-1.7\n".to_vec();
    for num in 1..40_000 {
        file.extend_from_slice(format!("{num} 0 obj (\n").as_bytes());
    }
    let started = std::time::Instant::now();
    let result = Document::open(&file[..]);
    assert!(matches!(result, Err(PdfError::Malformed { .. })));
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_damaged_trailer_does_not_hide_encryption() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/pypdf__encryption_r4-owner-password.pdf");
    let original = std::fs::read(path).expect("the shared corpus");
    let at = memchr::memmem::rfind(&original, b"trailer").unwrap();
    let mut damaged = original.clone();
    damaged[at..at + 7].copy_from_slice(b"trailxr");
    assert!(matches!(
        Document::open(&damaged[..]),
        Err(PdfError::Encrypted)
    ));
    let cut = &original[..memchr::memmem::rfind(&original, b"xref").unwrap()];
    assert!(matches!(Document::open(cut), Err(PdfError::Encrypted)));
    // Cut before the trailer: only the encryption dictionary is left to tell.
    let cut = &original[..memchr::memmem::rfind(&original, b"trailer").unwrap()];
    assert!(!cut.windows(8).any(|w| w == b"/Encrypt"));
    assert!(matches!(Document::open(cut), Err(PdfError::Encrypted)));
}

#[test]
fn an_empty_pages_node_is_never_taken_for_the_first_page() {
    let pages = "<</Type/Pages/Kids[4 0 R 3 0 R]/Count 1>>";
    let empty = "<</Type/Pages/Parent 2 0 R/Count 0>>";
    let file = with_table(&[CATALOG, pages, PAGE, empty], "", |o| o);
    let mut doc = Document::open(&file[..]).unwrap();
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
}

#[test]
fn field_names_in_utf16_count_as_taken() {
    let catalog = "<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>";
    let field = "<</FT/Tx/T<FEFF005300650061006C0031>>>";
    let file = with_table(&[catalog, PAGES, PAGE, field], "", |o| o);
    let mut doc = Document::open(&file[..]).unwrap();
    let chosen = form::choose_field(&mut doc, None).unwrap().unwrap();
    assert_eq!(chosen.name(), "Seal2");
    assert!(
        form::choose_field(&mut doc, Some("Seal1"))
            .unwrap()
            .is_err()
    );
}

#[test]
fn object_numbers_beyond_the_pdf_limit_are_damage_not_a_panic() {
    let mut file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o);
    let text = String::from_utf8(file.clone()).unwrap();
    file = text
        .replace(
            "trailer",
            "4294967295 2\n0000000000 00000 f \n0000000000 00000 f \ntrailer",
        )
        .into_bytes();
    let mut doc = Document::open(&file[..]).unwrap();
    assert!(doc.recovered());
    assert!(doc.next_object_number() < 10);
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
}

#[test]
fn a_dictionary_of_many_keys_parses_in_linear_time() {
    let keys: String = (0..100_000).map(|i| format!("/k{i} 1")).collect();
    let catalog = format!("<</Type/Catalog/Pages 2 0 R{keys}>>");
    let file = with_table(&[&catalog, PAGES, PAGE], "", |o| o);
    let started = std::time::Instant::now();
    let (_, dict) = Document::open(&file[..]).unwrap().catalog().unwrap();
    assert_eq!(dict.len(), 100_002);
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_cross_reference_stream_that_declares_millions_of_entries_is_refused_fast() {
    use std::io::Write as _;
    let mut file = with_table(&[CATALOG, PAGES, PAGE], "", |o| o);
    let prev = String::from_utf8_lossy(&file).rfind("xref\n0").unwrap();
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![2u8; 32 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    let at = file.len();
    file.extend_from_slice(
        format!(
            "9 0 obj\n<</Type/XRef/Size 33554432/W[1 0 0]/Root 1 0 R/Prev {prev}/Filter/FlateDecode/Length {}>>stream\n",
            bomb.len()
        )
        .as_bytes(),
    );
    file.extend_from_slice(&bomb);
    file.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{at}\n%%EOF\n").as_bytes());

    let started = std::time::Instant::now();
    let mut doc = Document::open(&file[..]).unwrap();
    assert!(
        doc.recovered(),
        "the section is refused and the file read by a scan"
    );
    assert!(doc.entries().len() < 100);
    assert_eq!(form::first_page(&mut doc).unwrap(), ObjRef::new(3, 0));
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}
