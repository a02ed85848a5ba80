//! The connector's icon against its script and the platform's rules: `scripts/make-icon` still
//! draws the checked-in `connector/icon.png` byte for byte, and that file is a PNG of the size,
//! kind and background that Power Platform asks of a connector icon.
//!
//! The rules come from Microsoft's connector certification guide ("Design an icon for your
//! connector"): a logo of about 160 x 160 pixels in a square of about 230 x 230, no rounded
//! corners, a background that is neither transparent nor white (#ffffff) nor the default
//! (#007ee5) and that matches `iconBrandColor` in apiProperties.json, submitted as `icon.png`.
//! That guide names no byte limit for the icon; 1 MB is what Microsoft's connector docs allow for
//! the other files a connector uploads (the OpenAPI definition, custom code), so the icon is held
//! under it too.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use flate2::read::ZlibDecoder;

/// The icon's width and height in pixels.
const ICON_PIXELS: u32 = 230;

/// The largest icon file accepted here, in bytes.
const MAX_ICON_BYTES: usize = 1_000_000;

/// The connector's brand colour, apiProperties.json `iconBrandColor` #1B4F72.
const BRAND: [u8; 3] = [0x1B, 0x4F, 0x72];

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn checked_in_icon() -> Vec<u8> {
    let path = root().join("connector/icon.png");
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A PNG's chunks as (type, data), after checking the signature and each chunk's CRC.
fn chunks(png: &[u8]) -> Vec<([u8; 4], &[u8])> {
    assert!(png.starts_with(PNG_SIGNATURE), "not a PNG signature");
    let mut found = Vec::new();
    let mut rest = &png[PNG_SIGNATURE.len()..];
    while !rest.is_empty() {
        assert!(rest.len() >= 12, "a chunk is cut short");
        let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert!(rest.len() >= 12 + length, "a chunk is cut short");
        let kind: [u8; 4] = rest[4..8].try_into().unwrap();
        let data = &rest[8..8 + length];
        let crc = u32::from_be_bytes(rest[8 + length..12 + length].try_into().unwrap());
        assert_eq!(
            crc,
            crc32(&rest[4..8 + length]),
            "CRC of {:?}",
            kind_name(kind)
        );
        found.push((kind, data));
        rest = &rest[12 + length..];
    }
    found
}

fn kind_name(kind: [u8; 4]) -> String {
    String::from_utf8_lossy(&kind).into_owned()
}

/// CRC-32 as PNG computes it (ISO 3309, the same polynomial as zlib's).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The rows of an 8-bit RGB image, undoing the PNG filters (PNG specification, section 9).
fn rgb_rows(width: usize, height: usize, compressed: &[u8]) -> Vec<Vec<u8>> {
    let mut raw = Vec::new();
    ZlibDecoder::new(compressed)
        .read_to_end(&mut raw)
        .expect("the image data inflates");
    let stride = width * 3;
    assert_eq!(raw.len(), height * (stride + 1), "image data size");

    let mut rows: Vec<Vec<u8>> = Vec::with_capacity(height);
    for line in raw.chunks(stride + 1) {
        let (filter, data) = (line[0], &line[1..]);
        let above = rows.last().cloned().unwrap_or_else(|| vec![0; stride]);
        let mut row = vec![0u8; stride];
        for i in 0..stride {
            let left = if i >= 3 { row[i - 3] } else { 0 };
            let up = above[i];
            let up_left = if i >= 3 { above[i - 3] } else { 0 };
            let predictor = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => paeth(left, up, up_left),
                other => panic!("unknown PNG filter {other}"),
            };
            row[i] = data[i].wrapping_add(predictor);
        }
        rows.push(row);
    }
    rows
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[test]
fn the_icon_script_draws_the_checked_in_icon_byte_for_byte() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("icon.png");

    let output = Command::new("python3")
        .arg(root().join("scripts/make-icon"))
        .arg(&out)
        .output()
        .expect("python3 runs");

    assert!(
        output.status.success(),
        "scripts/make-icon failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let drawn = std::fs::read(&out).unwrap();
    assert!(
        drawn == checked_in_icon(),
        "connector/icon.png ({} bytes) is not what scripts/make-icon draws ({} bytes); \
         run scripts/make-icon and commit connector/icon.png",
        checked_in_icon().len(),
        drawn.len()
    );
}

#[test]
fn the_icon_is_an_opaque_square_png_of_230_pixels_under_1_mb() {
    let icon = checked_in_icon();

    assert!(
        icon.len() < MAX_ICON_BYTES,
        "connector/icon.png has {} bytes",
        icon.len()
    );
    let chunks = chunks(&icon);
    let (kind, header) = chunks[0];
    assert_eq!(&kind, b"IHDR", "the first chunk");
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap());
    assert_eq!(
        (width, height),
        (ICON_PIXELS, ICON_PIXELS),
        "size in pixels"
    );
    // Bit depth 8, colour type 2: RGB without an alpha channel; and no tRNS chunk either, so no
    // pixel can be transparent.
    assert_eq!((header[8], header[9]), (8, 2), "bit depth and colour type");
    assert!(
        chunks.iter().all(|(kind, _)| kind != b"tRNS"),
        "a tRNS chunk makes a colour transparent"
    );
    assert_eq!(&chunks.last().unwrap().0, b"IEND", "the last chunk");
}

#[test]
fn the_icon_background_is_the_brand_colour_edge_to_edge() {
    let icon = checked_in_icon();
    let chunks = chunks(&icon);
    let data: Vec<u8> = chunks
        .iter()
        .filter(|(kind, _)| kind == b"IDAT")
        .flat_map(|(_, data)| data.iter().copied())
        .collect();
    let size = ICON_PIXELS as usize;

    let rows = rgb_rows(size, size, &data);

    // The drawing keeps to the middle 160 x 160 pixels, so a frame 20 pixels wide around it is
    // background all the way round: square corners, no white or default-blue margin.
    let frame = 20;
    for (y, row) in rows.iter().enumerate() {
        for x in 0..size {
            let in_frame = x < frame || y < frame || x >= size - frame || y >= size - frame;
            if in_frame {
                assert_eq!(&row[3 * x..3 * x + 3], BRAND, "pixel ({x}, {y})");
            }
        }
    }
    // And there is a drawing: some pixel is white (the page and the seal).
    assert!(
        rows.iter()
            .any(|row| row.chunks(3).any(|pixel| pixel == [0xFF, 0xFF, 0xFF])),
        "no white pixel: the drawing is missing"
    );
}
