//! TIFF pictures whose samples the `image` crate does not read: 32-bit
//! floats, 32- and 64-bit integers, signed integers and 16-bit floats, in
//! gray, gray with alpha, RGB or RGBA — as microscopes, scientific cameras,
//! satellite products and `tifffile`/`skimage.io.imsave` of a float array
//! write them. Read with the `tiff` crate (which the `image` crate uses
//! itself) and brought to 8 bits as a DICOM picture without a display
//! window is ([`super::dicom`]): floats that all lie in [0, 1] are scaled
//! by 255, as an image library saves a picture in [0, 1]; any other samples
//! from the picture's own range (its least value black, its largest white;
//! NaN black). A picture of other bands (five channels of a multispectral
//! product, CMYK at 16 bits) is an error that says what to give instead.

use std::io::Cursor;

use image::DynamicImage;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::ColorType;

/// Whether `bytes` begin as a TIFF file does (either byte order; classic
/// and BigTIFF).
pub(crate) fn is_tiff(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some(b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+")
    )
}

fn decoder(bytes: &[u8]) -> Result<Decoder<Cursor<&[u8]>>, String> {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = super::decode::MAX_ALLOC as usize;
    Decoder::new(Cursor::new(bytes))
        .map(|d| d.with_limits(limits))
        .map_err(|e| format!("cannot read TIFF: {e}"))
}

/// The channels kept of a colour type (gray 1, RGB 3; alpha dropped), or an
/// error naming the type.
fn channels(color: ColorType) -> Result<(usize, usize), String> {
    // (samples per pixel in the file, channels kept)
    match color {
        ColorType::Gray(_) => Ok((1, 1)),
        ColorType::GrayA(_) => Ok((2, 1)),
        ColorType::RGB(_) => Ok((3, 3)),
        ColorType::RGBA(_) => Ok((4, 3)),
        ColorType::Multiband { num_samples, .. } => Err(format!(
            "a TIFF of {num_samples} bands is not a picture poisonscan reads; save a gray or \
             RGB picture of it, or its bands as an embedding column of a table"
        )),
        other => Err(format!(
            "TIFF pixels of colour type {other:?} are not read; save the pictures as 8-bit gray \
             or RGB"
        )),
    }
}

/// Width and height from the file's first directory.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    let mut d = decoder(bytes)?;
    let (w, h) = d.dimensions().map_err(|e| e.to_string())?;
    channels(d.colortype().map_err(|e| e.to_string())?)?;
    if w == 0 || h == 0 {
        return Err(format!("image is {w}x{h}"));
    }
    Ok((w, h))
}

/// The first picture of the file, as 8-bit gray or RGB.
pub(crate) fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut d = decoder(bytes)?;
    let (w, h) = d.dimensions().map_err(|e| e.to_string())?;
    let (per_pixel, kept) = channels(d.colortype().map_err(|e| e.to_string())?)?;
    let samples: Vec<f64> = match d.read_image().map_err(|e| e.to_string())? {
        DecodingResult::U8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U64(v) => v.into_iter().map(|x| x as f64).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I64(v) => v.into_iter().map(|x| x as f64).collect(),
        DecodingResult::F16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F64(v) => v,
    };
    let pixels = w as usize * h as usize;
    if samples.len() < pixels * per_pixel {
        return Err(format!(
            "TIFF holds {} samples for a {w}x{h} picture of {per_pixel} per pixel",
            samples.len()
        ));
    }
    let kept_samples = || {
        samples
            .chunks_exact(per_pixel)
            .take(pixels)
            .flat_map(|p| p[..kept].iter().copied())
    };
    let bytes: Vec<u8> = to_bytes(kept_samples());
    let img = if kept == 1 {
        image::GrayImage::from_raw(w, h, bytes).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(w, h, bytes).map(DynamicImage::ImageRgb8)
    };
    img.ok_or_else(|| format!("TIFF picture of {w}x{h} does not hold its pixels"))
}

/// Samples to 8 bits: ×255 when every finite one lies in [0, 1], else from
/// their own range; NaN and infinities black.
fn to_bytes(samples: impl Iterator<Item = f64> + Clone) -> Vec<u8> {
    let (lo, hi) = samples
        .clone()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    let (lo, span) = if lo >= 0.0 && hi <= 1.0 {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi - lo)
    } else {
        (lo, 1.0)
    };
    samples
        .map(|x| {
            if x.is_finite() {
                ((x - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float_tiff(w: u32, h: u32, v: &[f32]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut enc = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
        enc.write_image::<tiff::encoder::colortype::Gray32Float>(w, h, v)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn float_pictures_are_read_in_their_range() {
        // in [0, 1]: scaled by 255, as an image library saves such a picture
        let unit = float_tiff(2, 2, &[0.0, 0.5, 1.0, 0.25]);
        assert!(is_tiff(&unit));
        assert_eq!(dimensions(&unit).unwrap(), (2, 2));
        let img = decode(&unit).unwrap();
        assert_eq!(img.to_luma8().into_raw(), vec![0, 128, 255, 64]);
        // elsewhere (a microscope's counts, a temperature): the picture's
        // own range, NaN black
        let counts = float_tiff(3, 1, &[-10.0, 30.0, f32::NAN]);
        assert_eq!(
            decode(&counts).unwrap().to_luma8().into_raw(),
            vec![0, 255, 0]
        );
    }

    #[test]
    fn pictures_of_many_bands_are_refused_with_what_to_do() {
        let e = channels(ColorType::Multiband {
            bit_depth: 16,
            num_samples: 6,
        })
        .unwrap_err();
        assert!(e.contains("6 bands") && e.contains("embedding"), "{e}");
        assert!(!is_tiff(b"\x89PNG"));
    }
}
