//! DICOM images (`*.dcm`, or told by the `DICM` mark after their 128-byte
//! preamble), as scanners, PACS exports and medical data sets keep them —
//! read as pictures of an image folder or column, like a PNG.
//!
//! Read: the file meta group (after the preamble and `DICM`, or from the
//! first byte, or none: a bare data set) and the data set in Explicit or
//! Implicit VR Little Endian (or Explicit Big Endian), sequences skipped;
//! the first
//! frame's pixels, uncompressed (8 or 16 bits, signed or not, gray or
//! RGB, either planar layout) or encapsulated as baseline/extended JPEG
//! (decoded as a JPEG file), lossless JPEG (process 14, the first-order
//! predictor or any other: the stored values), JPEG 2000 (lossless or not:
//! its components' values), JPEG-LS (lossless or near-lossless, one sample
//! a pixel: its values) or RLE Lossless. Values pass
//! through the modality rescale (slope, intercept), then the image's own
//! display window (Window Center/Width) where it has one, else its range,
//! to 8 bits (8-bit pixels without either keep their values, as a PNG's);
//! `MONOCHROME1` is inverted so that bright is dense in every image.
//! A data set deflated after its meta group is inflated first. Other
//! compressions (colour JPEG-LS, JPEG XL, MPEG video) are errors that name
//! the transfer syntax and say how to decompress.

use image::{DynamicImage, GrayImage, RgbImage};

use super::cursor::{number, Cursor};

type Parse<T> = Result<T, String>;

/// Whether bytes are a DICOM file: `DICM` after the preamble, or — as
/// pydicom writes without `enforce_file_format` and older systems wrote —
/// elements from the first byte (see [`bare`]).
pub(crate) fn is_dicom(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM") || bare(bytes)
}

/// Whether bytes are DICOM elements without preamble: a file meta group
/// (0002,xxxx) or a data set's identifying group (0008,xxxx) first, its
/// value representation two capital letters (explicit VR) or its length
/// within the file (implicit VR).
fn bare(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let group = u16::from_le_bytes([head[0], head[1]]);
    let length = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    matches!(group, 0x0002 | 0x0008) && (explicit_vr(&head[4..6]) || length <= bytes.len())
}

/// Whether two bytes are an explicit value representation (`UI`, `OB`, …).
fn explicit_vr(b: &[u8]) -> bool {
    b.len() == 2 && b.iter().all(u8::is_ascii_uppercase)
}

/// The attributes of an image that its pixels need.
#[derive(Default)]
struct Attributes {
    rows: usize,
    columns: usize,
    samples: usize,
    photometric: String,
    bits_allocated: usize,
    signed: bool,
    planar: bool,
    slope: f64,
    intercept: f64,
    window: Option<(f64, f64)>,
    transfer: String,
    /// The pixel data: raw, or its fragments when encapsulated.
    pixels: Option<Pixels>,
}

enum Pixels {
    Native(Vec<u8>),
    Fragments(Vec<Vec<u8>>),
}

/// The element reader: where it is, and how the data set is encoded.
struct Reader<'a> {
    c: Cursor<'a>,
    explicit: bool,
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

/// The delimiters that end an item and a sequence of undefined length.
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Parse<&'a [u8]> {
        self.c.take(n)
    }

    fn u16(&mut self) -> Parse<u16> {
        Ok(self.c.uint(2)? as u16)
    }

    fn u32(&mut self) -> Parse<u32> {
        Ok(self.c.uint(4)? as u32)
    }

    /// The next element's tag, VR (explicit encodings) and length.
    fn header(&mut self) -> Parse<((u16, u16), [u8; 2], u32)> {
        let tag = (self.u16()?, self.u16()?);
        // items and delimiters have no VR in any encoding
        if tag.0 == 0xFFFE || !self.explicit {
            return Ok((tag, *b"  ", self.u32()?));
        }
        let vr: [u8; 2] = self.take(2)?.try_into().expect("2 bytes");
        let long = matches!(
            &vr,
            b"OB"
                | b"OW"
                | b"OF"
                | b"SQ"
                | b"UT"
                | b"UN"
                | b"OD"
                | b"OL"
                | b"OV"
                | b"UC"
                | b"UR"
                | b"SV"
                | b"UV"
        );
        let len = if long {
            self.take(2)?;
            self.u32()?
        } else {
            u32::from(self.u16()?)
        };
        Ok((tag, vr, len))
    }

    /// Skips the rest of a value of undefined length up to its delimiter
    /// `end` (a sequence's: its items; an item's: its elements), and the
    /// nested ones inside.
    fn skip_to(&mut self, end: (u16, u16), depth: usize) -> Parse<()> {
        if depth > 64 {
            return Err("sequences nested too deep".into());
        }
        loop {
            let (tag, _, len) = self.header()?;
            match tag {
                t if t == end => return Ok(()),
                (0xFFFE, 0xE000) if len == UNDEFINED => self.skip_to(ITEM_END, depth + 1)?,
                _ if len == UNDEFINED => self.skip_to(SEQUENCE_END, depth + 1)?,
                _ => {
                    self.take(len as usize)?;
                }
            }
        }
    }
}

/// A text value's first of several (`\`-separated) numbers.
fn first_number(b: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(b);
    text.split('\\')
        .next()?
        .trim()
        .trim_end_matches('\0')
        .parse()
        .ok()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}

/// The transfer syntax of a data set deflated after its file meta group.
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Reads the attributes and pixel data of a DICOM file; with
/// `size_only`, up to its rows and columns.
fn attributes(bytes: &[u8], size_only: bool) -> Parse<Attributes> {
    attributes_of(bytes, size_only, false)
}

/// [`attributes`] of a file whose data set is already `inflated` (when its
/// transfer syntax says deflated).
fn attributes_of(bytes: &[u8], size_only: bool, inflated: bool) -> Parse<Attributes> {
    if !is_dicom(bytes) {
        return Err("not a DICOM file (no `DICM` after its preamble)".into());
    }
    let start = if bytes.get(128..132) == Some(b"DICM") {
        132
    } else {
        0
    };
    let mut a = Attributes {
        slope: 1.0,
        samples: 1,
        ..Attributes::default()
    };
    // the file meta group: Explicit VR Little Endian
    let mut r = Reader {
        c: Cursor::new(bytes, start, false),
        explicit: true,
    };
    while r.c.data.get(r.c.at..r.c.at + 2) == Some(&[0x02, 0x00]) {
        let (tag, _, len) = r.header()?;
        let value = r.take(len as usize)?;
        if tag == (0x0002, 0x0010) {
            a.transfer = text(value);
        }
    }
    match a.transfer.as_str() {
        "1.2.840.10008.1.2" => r.explicit = false,
        "1.2.840.10008.1.2.2" => r.c.big = true,
        // no meta group to say: told by the first element
        "" => {
            r.explicit =
                r.c.data
                    .get(r.c.at + 4..r.c.at + 6)
                    .is_some_and(explicit_vr)
        }
        _ => {}
    }
    if a.transfer == DEFLATED && !inflated {
        // the data set, Explicit VR Little Endian, raw-deflated (RFC 1951)
        // after the meta group; bounded as a picture's file could be
        use std::io::Read;
        let mut whole = bytes[..r.c.at].to_vec();
        let read = flate2::read::DeflateDecoder::new(&bytes[r.c.at..])
            .take(1 << 30)
            .read_to_end(&mut whole);
        // reading for the size alone, the file's first bytes are enough
        if let Err(e) = read {
            if !(size_only && whole.len() > r.c.at) {
                return Err(format!("its deflated data set is damaged: {e}"));
            }
        }
        return attributes_of(&whole, size_only, true);
    }
    // an unsigned short value (US)
    let us = |v: &[u8], big: bool| number(&v[..v.len().min(2)], big) as usize;
    while r.c.at < r.c.data.len() {
        if size_only && a.rows > 0 && a.columns > 0 {
            return Ok(a);
        }
        let (tag, _, len) = r.header()?;
        if tag == (0x7FE0, 0x0010) {
            a.pixels = Some(if len == UNDEFINED {
                let mut fragments = Vec::new();
                loop {
                    let (item, _, n) = r.header()?;
                    match item {
                        (0xFFFE, 0xE0DD) => break,
                        (0xFFFE, 0xE000) => fragments.push(r.take(n as usize)?.to_vec()),
                        _ => return Err("encapsulated pixel data without its items".into()),
                    }
                }
                // the first item is the frames' offset table
                Pixels::Fragments(fragments.into_iter().skip(1).collect())
            } else {
                Pixels::Native(r.take(len as usize)?.to_vec())
            });
            break;
        }
        if len == UNDEFINED {
            r.skip_to(SEQUENCE_END, 0)?;
            continue;
        }
        let v = r.take(len as usize)?;
        match tag {
            (0x0028, 0x0002) => a.samples = us(v, r.c.big),
            (0x0028, 0x0004) => a.photometric = text(v),
            (0x0028, 0x0006) => a.planar = us(v, r.c.big) == 1,
            (0x0028, 0x0010) => a.rows = us(v, r.c.big),
            (0x0028, 0x0011) => a.columns = us(v, r.c.big),
            (0x0028, 0x0100) => a.bits_allocated = us(v, r.c.big),
            (0x0028, 0x0103) => a.signed = us(v, r.c.big) == 1,
            (0x0028, 0x1050) => {
                let center = first_number(v);
                a.window = center.map(|c| (c, a.window.map_or(0.0, |w| w.1)));
            }
            (0x0028, 0x1051) => {
                if let Some(width) = first_number(v) {
                    a.window = Some((a.window.map_or(0.0, |w| w.0), width));
                }
            }
            (0x0028, 0x1052) => a.intercept = first_number(v).unwrap_or(0.0),
            (0x0028, 0x1053) => a.slope = first_number(v).unwrap_or(1.0),
            _ => {}
        }
    }
    if a.rows == 0 || a.columns == 0 {
        return Err("a DICOM file without an image (no rows and columns)".into());
    }
    Ok(a)
}

/// Rows and columns of a DICOM image, from its header.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    let a = attributes(bytes, true)?;
    Ok((a.columns as u32, a.rows as u32))
}

/// The first frame of a DICOM image, as an 8-bit picture.
pub(crate) fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let a = attributes(bytes, false)?;
    let (w, h, samples) = (a.columns, a.rows, a.samples);
    if !matches!(samples, 1 | 3) {
        return Err(format!("{samples} samples a pixel"));
    }
    // whether the samples come interleaved whatever the header's planar
    // configuration says (a decoded JPEG's)
    let mut interleaved = false;
    let raw = match a.pixels.as_ref().ok_or("a DICOM file without pixel data")? {
        Pixels::Native(raw) => raw.clone(),
        Pixels::Fragments(fragments) => match a.transfer.as_str() {
            // baseline and extended JPEG: the fragments are a JPEG file
            "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => {
                let jpeg: Vec<u8> = fragments.concat();
                return image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                    .map_err(|e| format!("its JPEG pixel data cannot be decoded: {e}"));
            }
            // lossless JPEG (process 14, any predictor or the first-order
            // one): the stored values themselves, rescaled and windowed
            // below as uncompressed ones are
            "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => {
                interleaved = true;
                lossless_jpeg(&fragments.concat(), w * h * samples, a.bits_allocated)?
            }
            // JPEG 2000, lossless or not: its components' values
            "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
                interleaved = true;
                jpeg2000(&fragments.concat(), w * h * samples, a.bits_allocated)?
            }
            "1.2.840.10008.1.2.5" => rle(fragments.first().ok_or("no RLE frame")?, w * h)?,
            // JPEG-LS, lossless or near-lossless: its values (one sample a
            // pixel; a colour one is an error that says to decompress it)
            "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" if samples == 1 => {
                jpeg_ls(&fragments.concat(), (w, h), a.bits_allocated)?
            }
            other => {
                return Err(format!(
                    "pixel data compressed with transfer syntax {other}{}, which poisonscan \
                     does not decode: decompress it first (gdcmconv --raw, or dcmdjpls)",
                    match other {
                        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => " (colour JPEG-LS)",
                        _ => "",
                    }
                ))
            }
        },
    };
    let bytes_per = match a.bits_allocated {
        8 => 1,
        16 => 2,
        other => return Err(format!("{other} bits a sample")),
    };
    let count = w * h * samples;
    if raw.len() < count * bytes_per {
        return Err(format!(
            "pixel data of {} bytes for {w}x{h}x{samples} samples (cut short?)",
            raw.len()
        ));
    }
    // RLE keeps each byte plane apart: planar bytes, most significant first
    let rle_planes = a.transfer == "1.2.840.10008.1.2.5";
    let sample = |i: usize| -> f64 {
        let v = if bytes_per == 1 {
            if a.signed {
                f64::from(raw[i] as i8)
            } else {
                f64::from(raw[i])
            }
        } else {
            let b = if rle_planes {
                [raw[i], raw[count + i]]
            } else if a.big_endian() {
                [raw[2 * i], raw[2 * i + 1]]
            } else {
                [raw[2 * i + 1], raw[2 * i]]
            };
            let u = u16::from_be_bytes(b);
            if a.signed {
                f64::from(u as i16)
            } else {
                f64::from(u)
            }
        };
        v * a.slope + a.intercept
    };
    // the index of sample `s` of pixel `p`
    let planar = (a.planar && !interleaved) || rle_planes;
    let at = |p: usize, s: usize| {
        if planar {
            s * w * h + p
        } else {
            p * samples + s
        }
    };
    let values: Vec<f64> = (0..w * h)
        .flat_map(|p| (0..samples).map(move |s| (p, s)))
        .map(|(p, s)| sample(at(p, s)))
        .collect();
    // 8-bit pixels stored as shown keep their values, as a PNG's would
    let as_stored = bytes_per == 1 && !a.signed && a.slope == 1.0 && a.intercept == 0.0;
    let (low, high) = match a.window.filter(|&(_, width)| width > 1.0 && samples == 1) {
        Some((center, width)) => (center - width / 2.0, center + width / 2.0),
        None if as_stored => (0.0, 255.0),
        None => values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            }),
    };
    let span = (high - low).max(f64::EPSILON);
    let invert = a.photometric == "MONOCHROME1";
    let eight: Vec<u8> = values
        .iter()
        .map(|&v| {
            let x = ((v - low) / span).clamp(0.0, 1.0) * 255.0;
            let x = x.round() as u8;
            if invert {
                255 - x
            } else {
                x
            }
        })
        .collect();
    let (w, h) = (w as u32, h as u32);
    Ok(if samples == 1 {
        DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, eight).ok_or("a bad image size")?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, eight).ok_or("a bad image size")?)
    })
}

impl Attributes {
    fn big_endian(&self) -> bool {
        self.transfer == "1.2.840.10008.1.2.2"
    }
}

/// Samples (whole numbers, signed or not) as uncompressed pixel data of
/// `bits` bits a sample, little-endian: a negative one in two's
/// complement, as DICOM stores signed pixels.
fn stored(samples: impl Iterator<Item = i32>, bits: usize) -> Vec<u8> {
    if bits == 8 {
        samples.map(|v| v as u8).collect()
    } else {
        samples.flat_map(|v| (v as u16).to_le_bytes()).collect()
    }
}

/// A JPEG 2000 codestream's `count` samples, its components interleaved, as
/// uncompressed pixel data of `bits` bits a sample.
fn jpeg2000(data: &[u8], count: usize, bits: usize) -> Parse<Vec<u8>> {
    use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};
    let fail =
        |e: hayro_jpeg2000::DecodeError| format!("its JPEG 2000 pixel data cannot be decoded: {e}");
    let image = Image::new(data, &DecodeSettings::default()).map_err(fail)?;
    let mut context = DecoderContext::default();
    let decoded = image.decode(&mut context).map_err(fail)?;
    let components = decoded.components();
    let per = components.first().map_or(0, |c| c.samples().len());
    if per * components.len() != count {
        return Err(format!(
            "its JPEG 2000 holds {} samples for {count}",
            per * components.len()
        ));
    }
    // the decoder shifts every component to unsigned values; signed ones
    // (Ssiz's high bit in the SIZ marker) are shifted back
    let siz = data.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]);
    let shifts: Vec<i32> = (0..components.len())
        .map(|k| match siz.and_then(|at| data.get(at + 42 + 3 * k)) {
            Some(&ssiz) if ssiz & 0x80 != 0 => 1 << (ssiz & 0x7F),
            _ => 0,
        })
        .collect();
    let samples = (0..per).flat_map(|i| {
        let shifts = &shifts;
        components
            .iter()
            .zip(shifts)
            .map(move |(c, &shift)| c.samples()[i].round() as i32 - shift)
    });
    Ok(stored(samples, bits))
}

/// A lossless JPEG frame's `count` samples, interleaved, as uncompressed
/// pixel data of `bits` bits a sample (little-endian).
fn lossless_jpeg(jpeg: &[u8], count: usize, bits: usize) -> Parse<Vec<u8>> {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let data = decoder
        .decode()
        .map_err(|e| format!("its lossless JPEG pixel data cannot be decoded: {e}"))?;
    // a precision of 8 bits gives a byte a sample, others two (native order)
    let samples: Vec<u16> = if data.len() == count {
        data.iter().map(|&b| u16::from(b)).collect()
    } else if data.len() == 2 * count {
        data.chunks_exact(2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .collect()
    } else {
        return Err(format!(
            "its lossless JPEG holds {} bytes for {count} samples",
            data.len()
        ));
    };
    Ok(stored(samples.into_iter().map(i32::from), bits))
}

/// A one-sample JPEG-LS frame of `w × h` pixels as uncompressed pixel data
/// of `bits` bits a sample (little-endian).
fn jpeg_ls(data: &[u8], (w, h): (usize, usize), bits: usize) -> Parse<Vec<u8>> {
    let (w32, h32) = (w as u32, h as u32);
    let (samples, dw, dh) = jpegls::decode(data, w32, h32)
        .map_err(|e| format!("its JPEG-LS pixel data cannot be decoded: {e}"))?;
    if (dw, dh) != (w32, h32) || samples.len() != w * h {
        return Err(format!(
            "its JPEG-LS holds a {dw}x{dh} picture where the header says {w}x{h}"
        ));
    }
    Ok(stored(samples.into_iter().map(i32::from), bits))
}

/// An RLE Lossless frame: a header of segment offsets, then each segment
/// (a byte plane) in PackBits; the planes concatenated, each `pixels`
/// bytes.
fn rle(frame: &[u8], pixels: usize) -> Parse<Vec<u8>> {
    let word = |i: usize| -> Parse<usize> {
        let b = frame.get(4 * i..4 * i + 4).ok_or("a cut RLE header")?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let segments = word(0)?;
    if segments == 0 || segments > 15 {
        return Err(format!("an RLE frame of {segments} segments"));
    }
    let mut out = Vec::with_capacity(segments * pixels);
    for s in 0..segments {
        let start = word(s + 1)?;
        let end = if s + 1 < segments {
            word(s + 2)?
        } else {
            frame.len()
        };
        let seg = frame
            .get(start..end)
            .ok_or("an RLE segment past its frame")?;
        let mut plane = Vec::with_capacity(pixels);
        let mut i = 0;
        while i < seg.len() && plane.len() < pixels {
            let n = seg[i] as i8;
            i += 1;
            if n >= 0 {
                let k = n as usize + 1;
                plane.extend_from_slice(seg.get(i..i + k).ok_or("a cut RLE run")?);
                i += k;
            } else if n != -128 {
                let b = *seg.get(i).ok_or("a cut RLE run")?;
                plane.extend(std::iter::repeat_n(b, (1 - n as isize) as usize));
                i += 1;
            }
        }
        plane.resize(pixels, 0);
        out.extend(plane);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fixtures");
        std::fs::read(dir.join(name)).unwrap()
    }

    #[test]
    fn compressed_pixels_decode_as_the_native_ones() {
        // one 16-bit CT picture (rescaled, windowed) as DCMTK and pydicom
        // compress it (datasets/fixtures/dicom_codecs.py): lossless JPEG
        // with the first-order predictor and with predictor 6, deflated,
        // JPEG 2000 — the same 8-bit picture as uncompressed (was: an error
        // naming the transfer syntax)
        let native = decode(&fixture("ct32_native.dcm")).unwrap().to_luma8();
        for name in [
            "ct32_lossless_sv1.dcm",
            "ct32_lossless_sv6.dcm",
            "ct32_deflated.dcm",
            "ct32_j2k.dcm",
            // the same Hounsfield units stored signed, with no intercept
            "ct32_signed.dcm",
            "ct32_signed_sv1.dcm",
            "ct32_signed_j2k.dcm",
            // JPEG-LS (CharLS, in DCMTK's dcmcjpls), unsigned and signed
            "ct32_jls.dcm",
            "ct32_signed_jls.dcm",
        ] {
            let bytes = fixture(name);
            assert_eq!(dimensions(&bytes).unwrap(), (32, 32), "{name}");
            let image = decode(&bytes).unwrap();
            assert_eq!(image.to_luma8(), native, "{name}");
        }
        // windowed, not stretched: the soft-tissue window (-160 to 240 HU)
        // leaves the ramp black and clips the disc's bright side
        let values: std::collections::BTreeSet<u8> = native.pixels().map(|p| p.0[0]).collect();
        assert!(
            values.contains(&0) && values.contains(&255) && values.len() > 3,
            "{values:?}"
        );
        // near-lossless JPEG-LS (NEAR 2: within 2 of the 12-bit values;
        // decoded as DCMTK's dcmdjpls decodes it, checked when it was made):
        // within two levels of the window's 8 bits
        let near = decode(&fixture("ct32_jls_near.dcm")).unwrap().to_luma8();
        for (a, b) in near.pixels().zip(native.pixels()) {
            assert!(a.0[0].abs_diff(b.0[0]) <= 2, "{a:?} {b:?}");
        }
        // colour JPEG-LS is not decoded: the error names it and says how to
        // decompress
        let e = decode(&fixture("rgb32_jls.dcm")).unwrap_err();
        assert!(
            e.contains("colour JPEG-LS") && e.contains("dcmdjpls"),
            "{e}"
        );
        // a damaged JPEG-LS stream is an error, never a panic
        let mut bytes = fixture("ct32_jls.dcm");
        let n = bytes.len();
        for k in 0..64 {
            let mut damaged = bytes.clone();
            damaged[n - 700 + 9 * k] ^= 0x5a;
            let _ = decode(&damaged);
        }
        bytes.truncate(n - 400);
        assert!(decode(&bytes).is_err());
        // an 8-bit RGB picture, lossless JPEG: its stored values exactly
        let rgb = decode(&fixture("rgb32_sv1.dcm")).unwrap().to_rgb8();
        for (x, y, p) in rgb.enumerate_pixels() {
            let disc = u32::from((x as i32 - 20).pow(2) + (y as i32 - 12).pow(2) < 60);
            let want = [x * 8, y * 8, (x + y) * 4 + 60 * disc].map(|v| v as u8);
            assert_eq!(p.0, want, "({x}, {y})");
        }
        // without the preamble and `DICM` (pydicom without
        // enforce_file_format), and without the meta group too (older
        // systems' bare data sets, explicit or implicit VR: told by the
        // first element)
        let strip = |name: &str, meta: bool| {
            let b = fixture(name);
            let group = u32::from_le_bytes(b[140..144].try_into().unwrap()) as usize;
            b[if meta { 132 } else { 144 + group }..].to_vec()
        };
        for (name, meta) in [
            ("ct32_native.dcm", true),
            ("ct32_native.dcm", false),
            ("ct32_implicit.dcm", false),
        ] {
            let bare = strip(name, meta);
            assert!(is_dicom(&bare), "{name}");
            assert_eq!(decode(&bare).unwrap().to_luma8(), native, "{name} {meta}");
        }
        // a PNG is not taken for one
        assert!(!is_dicom(b"\x89PNG\r\n\x1a\n0000"));
        // cut inside the compressed frame: an error, not a panic
        let bytes = fixture("ct32_lossless_sv1.dcm");
        assert!(decode(&bytes[..bytes.len() - 200]).is_err());
        let bytes = fixture("ct32_deflated.dcm");
        assert!(decode(&bytes[..bytes.len() - 200]).is_err());
    }

    #[test]
    fn rle_planes_are_unpacked() {
        // one segment: a literal run of 3, a repeat of 5 × 9, a no-op
        let mut frame = vec![0u8; 64];
        frame[..4].copy_from_slice(&1u32.to_le_bytes());
        frame[4..8].copy_from_slice(&64u32.to_le_bytes());
        frame.extend([2, 1, 2, 3, 0xFC, 9, 0x80]);
        assert_eq!(rle(&frame, 8).unwrap(), [1, 2, 3, 9, 9, 9, 9, 9]);
        // cut inside a run: an error, not a panic
        assert!(rle(&frame[..66], 8).is_err());
    }
}
