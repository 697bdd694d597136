//! Decoding encoded images (PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM/PBM;
//! DICOM by
//! [`super::dicom`], TIFF samples the image crate does not read by
//! [`super::sample_tiff`]) into pixel rows, shared by image
//! folders and image columns of tables: one size for every image, chosen from
//! the data and kept small enough to scan, decoders bounded against
//! decompression bombs, and bad images reported per row instead of aborting.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The most pixels (per channel) an image keeps for scanning, unless
/// `--resize` says otherwise: 64 × 64. Larger images are scaled down (area
/// filter, aspect kept), so that a folder of photos costs `rows × 12,288`
/// floats instead of `rows × 150,528` at 224 × 224 — and the scanners and
/// the image model see a size they handle in seconds. Patch triggers of the
/// sizes used on photos (a tenth of the side or more) stay several pixels
/// wide.
pub const MAX_PIXELS: u64 = 64 * 64;

/// The image formats read, in words.
pub(crate) const FORMATS: &str = "PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM or DICOM";

/// Largest width or height a decoder may announce; larger files are
/// reported as invalid instead of allocated.
const MAX_SIDE: u32 = 16_384;
/// Most bytes one decoder may allocate.
pub(crate) const MAX_ALLOC: u64 = 512 << 20;

fn reader<R: std::io::BufRead + std::io::Seek>(source: R) -> Result<ImageReader<R>, String> {
    let mut r = ImageReader::new(source)
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    r.limits(limits);
    if r.format().is_none() {
        return Err(format!("not a {FORMATS} image"));
    }
    Ok(r)
}

/// Width and height from the image's header, without decoding the pixels.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    if super::dicom::is_dicom(bytes) {
        return super::dicom::dimensions(bytes);
    }
    let size = reader(Cursor::new(bytes)).and_then(header_size);
    match size {
        Err(_) if super::sample_tiff::is_tiff(bytes) => super::sample_tiff::dimensions(bytes),
        size => size,
    }
}

/// [`dimensions`] of an image file, reading only its header (a DICOM
/// file's elements up to its size). The outer error is the file's I/O
/// error; the inner one says the header is bad.
pub(crate) fn file_dimensions(
    path: &std::path::Path,
) -> std::io::Result<Result<(u32, u32), String>> {
    use std::io::{Read, Seek};
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut head = [0u8; 132];
    let n = file.read(&mut head)?;
    if super::dicom::is_dicom(&head[..n]) {
        // the size sits in the header: the first 64 KiB, else the file
        let mut start = head[..n].to_vec();
        file.take(64 << 10).read_to_end(&mut start)?;
        if let Ok(size) = super::dicom::dimensions(&start) {
            return Ok(Ok(size));
        }
        return Ok(super::dicom::dimensions(&std::fs::read(path)?));
    }
    file.seek(std::io::SeekFrom::Start(0))?;
    match reader(file).and_then(header_size) {
        // samples the image crate does not read (floats, 32 bits): the
        // directory may sit anywhere in the file
        Err(_) if super::sample_tiff::is_tiff(&head[..n]) => {
            Ok(super::sample_tiff::dimensions(&std::fs::read(path)?))
        }
        size => Ok(size),
    }
}

fn header_size<R: std::io::BufRead + std::io::Seek>(
    r: ImageReader<R>,
) -> Result<(u32, u32), String> {
    let (w, h) = r.into_dimensions().map_err(|e| e.to_string())?;
    if w == 0 || h == 0 {
        return Err(format!("image is {w}x{h}"));
    }
    Ok((w, h))
}

/// An image decoded and scaled to the scan's size, as RGB bytes, and whether
/// it has colour (some pixel whose channels differ).
pub(crate) struct Decoded {
    pub rgb: Vec<u8>,
    pub has_color: bool,
    /// Stored in a lossy format (JPEG, lossy WebP): its values are near
    /// those it was made with, not theirs.
    pub lossy: bool,
    /// The picture's tone at its own size, where it was scaled (see
    /// [`tone_rows`]).
    pub native: Option<NativeTone>,
}

/// A picture's tone ([`poisonscan_scanners::tone::picture_tone`]) measured
/// before it was scaled: of its red, green and blue, and of its luma (the
/// gray value [`pixel_rows`] gives it in a gray data set).
pub(crate) struct NativeTone {
    rgb: Vec<f32>,
    luma: Vec<f32>,
}

impl NativeTone {
    /// Of 8-bit RGB pixels, counted in one pass (a photograph's millions of
    /// pixels are neither copied nor sorted).
    fn of(rgb: &[u8]) -> Self {
        use poisonscan_scanners::tone::tone_of_counts;
        let mut counts = [[0usize; 256]; 4];
        for p in rgb.chunks_exact(3) {
            counts[0][p[0] as usize] += 1;
            counts[1][p[1] as usize] += 1;
            counts[2][p[2] as usize] += 1;
            counts[3][luma(p) as usize] += 1;
        }
        Self {
            rgb: counts[..3].iter().flat_map(tone_of_counts).collect(),
            luma: tone_of_counts(&counts[3]).to_vec(),
        }
    }
}

/// The Rec. 601 luma of an 8-bit RGB pixel, rounded.
fn luma(p: &[u8]) -> u8 {
    ((299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32 + 500) / 1000) as u8
}

/// Decodes one image and scales it to `width × height`.
pub(crate) fn decode(bytes: &[u8], width: u32, height: u32) -> Result<Decoded, String> {
    let mut lossy = false;
    let img = if super::dicom::is_dicom(bytes) {
        super::dicom::decode(bytes)?
    } else {
        // Decoded as it is displayed: a camera's EXIF orientation is applied.
        let decoded = reader(Cursor::new(bytes)).and_then(|r| {
            lossy = match r.format() {
                Some(ImageFormat::Jpeg) => true,
                // a lossy WebP's image chunk is `VP8 `, a lossless one's `VP8L`
                Some(ImageFormat::WebP) => bytes.get(12..16) == Some(b"VP8 "),
                _ => false,
            };
            let mut decoder = r.into_decoder().map_err(|e| e.to_string())?;
            let orientation = decoder.orientation().map_err(|e| e.to_string())?;
            let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
            img.apply_orientation(orientation);
            Ok(img)
        });
        match decoded {
            // float, 32-bit and signed samples, which the image crate's
            // TIFF decoder refuses
            Err(e) if super::sample_tiff::is_tiff(bytes) => {
                super::sample_tiff::decode(bytes).map_err(|e2| format!("{e}; {e2}"))?
            }
            decoded => decoded?,
        }
    };
    // Scaling blends pixels, and with them the exact colours a colour filter
    // leaves (`tone-filter`): the tone is measured first.
    let (img, native) = if img.width() != width || img.height() != height {
        let native = match img.as_rgb8() {
            Some(rgb) => NativeTone::of(rgb.as_raw()),
            None => NativeTone::of(img.to_rgb8().as_raw()),
        };
        (
            img.resize_exact(width, height, FilterType::Triangle),
            Some(native),
        )
    } else {
        (img, None)
    };
    let rgb = img.to_rgb8().into_raw();
    // Colour is told from the pixels, not the file's colour type: a gray
    // picture saved as RGB, or a GIF's palette of grays, is gray.
    let has_color =
        img.color().has_color() && rgb.chunks_exact(3).any(|p| p[0] != p[1] || p[1] != p[2]);
    Ok(Decoded {
        rgb,
        has_color,
        lossy,
        native,
    })
}

/// Whether any decoded picture was stored in a lossy format (see
/// [`Decoded::lossy`]) or scaled.
pub(crate) fn any_lossy(decoded: &[Result<Decoded, String>]) -> bool {
    decoded
        .iter()
        .flatten()
        .any(|d| d.lossy || d.native.is_some())
}

/// Whether any decoded picture was scaled (where none was, the pixels
/// hold every tone as it was, and [`tone_rows`] need not be read).
pub(crate) fn any_scaled(decoded: &[Result<Decoded, String>]) -> bool {
    decoded.iter().flatten().any(|d| d.native.is_some())
}

/// Each decoded picture's tone at its own size (zeros where decoding
/// failed), in the `channels` [`pixel_rows`] gave them — a picture read at
/// its own size has its pixels' tone.
pub(crate) fn tone_rows(decoded: &[Result<Decoded, String>], channels: usize) -> Vec<f32> {
    use poisonscan_scanners::tone::TONE_WIDTH;
    use rayon::prelude::*;
    let width = TONE_WIDTH * channels;
    let mut out = vec![0f32; decoded.len() * width];
    out.par_chunks_mut(width)
        .zip(decoded.par_iter())
        .for_each(|(row, d)| {
            let Ok(d) = d else { return };
            // a picture read at its own size: its pixels' tone, counted alike
            let own;
            let tone = match &d.native {
                Some(t) => t,
                None => {
                    own = NativeTone::of(&d.rgb);
                    &own
                }
            };
            row.copy_from_slice(if channels == 3 { &tone.rgb } else { &tone.luma });
        });
    out
}

/// Pixel rows in [0, 1] of decoded images, one row per image (zeros where
/// decoding failed), with `channels` given or, when `None`, 3 if any image
/// has colour and 1 otherwise; returns the rows and the channels. Colour
/// images in a gray data set are converted with the Rec. 601 luma weights
/// (gray ones have r = g = b).
pub(crate) fn pixel_rows(
    decoded: &[Result<Decoded, String>],
    pixels: usize,
    channels: Option<usize>,
) -> (Vec<f32>, usize) {
    use rayon::prelude::*;
    let channels = channels.unwrap_or_else(|| {
        if decoded.iter().flatten().any(|d| d.has_color) {
            3
        } else {
            1
        }
    });
    let dim = pixels * channels;
    let mut values = vec![0f32; decoded.len() * dim];
    values
        .par_chunks_mut(dim)
        .zip(decoded.par_iter())
        .for_each(|(row, d)| {
            let Ok(d) = d else { return };
            if channels == 3 {
                for (v, &p) in row.iter_mut().zip(&d.rgb) {
                    *v = p as f32 / 255.0;
                }
            } else {
                for (v, p) in row.iter_mut().zip(d.rgb.chunks_exact(3)) {
                    *v = luma(p) as f32 / 255.0;
                }
            }
        });
    (values, channels)
}

/// The size every image is scanned at, and a note for the summary when
/// images were scaled: `resize` when given; else the most common size among
/// the images (the first such in input order on a tie), scaled down to
/// [`MAX_PIXELS`] when larger.
pub(crate) fn plan_size(
    sizes: &[(u32, u32)],
    resize: Option<(u32, u32)>,
) -> ((u32, u32), Vec<String>) {
    if let Some(size) = resize {
        return (size, Vec::new());
    }
    let mut counts: Vec<((u32, u32), usize, usize)> = Vec::new();
    for (i, &s) in sizes.iter().enumerate() {
        match counts.iter_mut().find(|(t, _, _)| *t == s) {
            Some(c) => c.1 += 1,
            None => counts.push((s, 1, i)),
        }
    }
    let &(common, n_common, _) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        .expect("at least one image");
    let mut notes = Vec::new();
    let (w, h) = common;
    let pixels = w as u64 * h as u64;
    let target = if pixels > MAX_PIXELS {
        let s = (MAX_PIXELS as f64 / pixels as f64).sqrt();
        let t = (
            ((w as f64 * s).floor() as u32).max(1),
            ((h as f64 * s).floor() as u32).max(1),
        );
        notes.push(format!(
            "images were scaled from {w}x{h} to {}x{} for scanning (at most {MAX_PIXELS} pixels \
             each keeps memory and time bounded); pass --resize WxH to choose the size",
            t.0, t.1
        ));
        t
    } else {
        common
    };
    let others = sizes.len() - n_common;
    if others > 0 {
        notes.push(format!(
            "{others} of {} images differ from the most common size {w}x{h} and were scaled to \
             {}x{} (pass --resize WxH to choose the size)",
            sizes.len(),
            target.0,
            target.1
        ));
    }
    (target, notes)
}

/// Brings pixel rows that arrived already decoded (IDX files, image columns
/// of tables) to the size an image folder of the same images would get, so
/// that the container does not change what is scanned: `resize` when given,
/// else scaled down to [`MAX_PIXELS`] when larger. Returns the new shape, a
/// note and each row's tone before it was scaled (see
/// [`super::Dataset::tones`]), or `None` when the rows keep their size.
pub(crate) fn fit_pixels(
    features: &[f32],
    rows: usize,
    (height, width, channels): (usize, usize, usize),
    resize: Option<(u32, u32)>,
) -> Option<Fitted> {
    let ((w, h), notes) = plan_size(&[(width as u32, height as u32)], resize);
    let (w, h) = (w as usize, h as usize);
    if (w, h) == (width, height) {
        return None;
    }
    let dim = height * width * channels;
    let out_dim = h * w * channels;
    // 8-bit pictures — bytes kept as they were (a NumPy archive's or a
    // table's uint8 pictures), or bytes over 255 — are scaled as a folder
    // of the same pictures is: bytes to [0, 1] first (scaled, their
    // fractions are no longer bytes, and scored in those units they
    // differed: 96×96 emoji as a uint8 archive failed a clean class that
    // the PNG folder passes), and the scaled values rounded to 8 bits, as
    // a decoder's resizing of an 8-bit picture rounds them
    let on_grid = |scale: f32| {
        features.iter().all(|&v| {
            let b = v * scale;
            (0.0..=255.0).contains(&b) && (b - b.round()).abs() < 1e-3
        })
    };
    let bytes = features.iter().any(|&v| v > 1.0) && on_grid(1.0);
    let eight_bit = bytes || on_grid(255.0);
    use rayon::prelude::*;
    let scaled: Vec<f32>;
    let features = if bytes {
        scaled = features.par_iter().map(|&v| v / 255.0).collect();
        &scaled[..]
    } else {
        features
    };
    let tones = features
        .par_chunks(dim)
        .flat_map_iter(|row| poisonscan_scanners::tone::picture_tone(row, channels))
        .collect();
    let mut out = vec![0f32; rows * out_dim];
    out.par_chunks_mut(out_dim)
        .zip(features.par_chunks(dim))
        .for_each(|(o, row)| {
            if channels == 1 {
                let img = image::ImageBuffer::<image::Luma<f32>, _>::from_raw(
                    width as u32,
                    height as u32,
                    row.to_vec(),
                )
                .expect("row holds one image");
                let r = image::imageops::resize(&img, w as u32, h as u32, FilterType::Triangle);
                o.copy_from_slice(r.as_raw());
            } else {
                let img = image::Rgb32FImage::from_raw(width as u32, height as u32, row.to_vec())
                    .expect("row holds one image");
                let r = image::imageops::resize(&img, w as u32, h as u32, FilterType::Triangle);
                o.copy_from_slice(r.as_raw());
            }
        });
    if eight_bit {
        out.par_iter_mut()
            .for_each(|v| *v = (*v * 255.0).round().clamp(0.0, 255.0) / 255.0);
    }
    let note = notes.into_iter().next().unwrap_or_else(|| {
        format!("images were scaled from {width}x{height} to {w}x{h} (--resize)")
    });
    Some((out, (h, w), note, tones))
}

/// What [`fit_pixels`] gives: the scaled rows, their height and width, a
/// note, and each row's tone before scaling.
pub(crate) type Fitted = (Vec<f32>, (usize, usize), String, Vec<f32>);

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, rgb: bool) -> Vec<u8> {
        let img = if rgb {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 7) as u8, (y * 5) as u8, 9])
            }))
        } else {
            DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, _| {
                image::Luma([(x * 3) as u8])
            }))
        };
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// A picture's tone is measured before it is scaled: its one black
    /// pixel is its darkest, which the scaled pixels blend away.
    #[test]
    fn a_scaled_picture_keeps_its_tone_from_before() {
        let img = image::RgbImage::from_fn(96, 96, |x, y| match (x, y) {
            (40, 40) => image::Rgb([0, 0, 0]),
            _ => image::Rgb([200, 100, 50]),
        });
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let scaled = decode(&bytes, 64, 64).unwrap();
        assert!(scaled.rgb.chunks_exact(3).all(|p| p[0] > 0));
        let kept = decode(&bytes, 96, 96).unwrap();
        assert!(kept.native.is_none());
        let decoded = [Ok(scaled), Ok(kept), Err("bad".to_string())];
        assert!(any_scaled(&decoded));
        let tones = tone_rows(&decoded, 3);
        let w = 3 * poisonscan_scanners::tone::TONE_WIDTH;
        // both the scaled picture's row and the one read at its size: the
        // picture's own tone, black its darkest, (200, 100, 50) its lightest
        for row in tones[..2 * w].chunks(w) {
            assert_eq!(row[0], 0.0);
            assert_eq!(row[w / 3 - 1], 200.0 / 255.0);
            assert_eq!(row[w - 1], 50.0 / 255.0);
        }
        assert!(tones[2 * w..].iter().all(|&v| v == 0.0));
        // gray: the luma's
        let gray = tone_rows(&decoded[..1], 1);
        assert_eq!(gray[0], 0.0);
        assert_eq!(gray[gray.len() - 1], luma(&[200, 100, 50]) as f32 / 255.0);
    }

    /// A JPEG's pixels, and a scaled picture's, are not the values it was
    /// made with: lossy; a PNG's and a lossless WebP's read at their size
    /// are.
    #[test]
    fn jpeg_and_scaled_pictures_are_lossy() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([(x * 9) as u8, (y * 9) as u8, 90])
        }));
        let encoded = |format| {
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), format).unwrap();
            out
        };
        let jpeg = decode(&encoded(image::ImageFormat::Jpeg), 16, 16).unwrap();
        assert!(jpeg.lossy);
        for format in [image::ImageFormat::Png, image::ImageFormat::WebP] {
            let exact = decode(&encoded(format), 16, 16).unwrap();
            assert!(!exact.lossy, "{format:?}");
            assert!(!any_lossy(&[Ok(exact)]));
        }
        let scaled = decode(&encoded(image::ImageFormat::Png), 8, 8).unwrap();
        assert!(!scaled.lossy && any_lossy(&[Ok(scaled), Err("bad".into())]));
        assert!(any_lossy(&[Ok(jpeg)]));
    }

    #[test]
    fn large_images_are_scaled_to_the_pixel_budget() {
        let (size, notes) = plan_size(&[(224, 224), (224, 224), (100, 50)], None);
        assert_eq!(size, (64, 64));
        assert_eq!(notes.len(), 2, "{notes:?}");
        let (size, notes) = plan_size(&[(28, 28), (28, 28)], None);
        assert_eq!(size, (28, 28));
        assert!(notes.is_empty());
        // A wide photo keeps its aspect.
        let (size, _) = plan_size(&[(640, 320)], None);
        assert_eq!(size, (90, 45));
        assert_eq!(plan_size(&[(640, 320)], Some((32, 32))).0, (32, 32));
    }

    #[test]
    fn decoded_pixels_are_fitted_like_a_folder() {
        let (rows, h, w) = (3, 128, 96);
        let px: Vec<f32> = (0..rows * h * w).map(|i| (i % 7) as f32 / 7.0).collect();
        let (out, (oh, ow), note, _) = fit_pixels(&px, rows, (h, w, 1), None).unwrap();
        assert_eq!((oh, ow), (73, 55));
        assert_eq!(out.len(), rows * oh * ow);
        assert!(note.contains("128"), "{note}");
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(fit_pixels(&px, rows, (h, w, 1), Some((w as u32, h as u32))).is_none());
        assert!(fit_pixels(&px[..28 * 28], 1, (28, 28, 1), None).is_none());
        let rgb: Vec<f32> = vec![0.5; 2 * 100 * 100 * 3];
        let (out, _, _, _) = fit_pixels(&rgb, 2, (100, 100, 3), None).unwrap();
        assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-5));
    }

    #[test]
    fn decodes_scales_and_reports_bad_bytes() {
        let bytes = png(40, 20, true);
        assert_eq!(dimensions(&bytes).unwrap(), (40, 20));
        let d = decode(&bytes, 10, 5).unwrap();
        assert_eq!(d.rgb.len(), 10 * 5 * 3);
        assert!(d.has_color);
        assert!(!decode(&png(8, 8, false), 8, 8).unwrap().has_color);
        assert!(dimensions(b"not an image").is_err());
        let mut truncated = png(40, 20, true);
        truncated.truncate(truncated.len() / 2);
        assert!(decode(&truncated, 40, 20).is_err());
    }
}
