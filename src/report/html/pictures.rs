//! Pictures for the page, as `data:` PNG URIs encoded by the `image` crate
//! from decoded pixels (never from the input's own bytes): thumbnails and
//! the trigger heat map.

use base64::Engine;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};

/// Longest side of a thumbnail, in pixels; larger images are scaled down.
pub const THUMB_SIDE: u32 = 64;

/// Longest side of a neighbour's thumbnail (shown small beside a row).
pub const SMALL_SIDE: u32 = 32;

/// The shape of the scanned images: height, width, channels (1 or 3).
pub use poisonscan_scanners::ImageShape as Shape;

fn byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn png_uri(img: DynamicImage) -> String {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("PNG encoding into memory does not fail");
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn image_of(pixels: &[f32], shape: Shape, white: f32) -> DynamicImage {
    let (w, h) = (shape.width as u32, shape.height as u32);
    let bytes: Vec<u8> = pixels.iter().map(|&v| byte(v / white)).collect();
    match shape.channels {
        3 => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, bytes).expect("shape matches")),
        _ => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, bytes).expect("shape matches")),
    }
}

/// A thumbnail of one image (values from 0 to `white`, see
/// [`crate::ingest::white_of`]; row-major, channels last), scaled down to
/// at most `side` pixels a side.
pub fn thumbnail(pixels: &[f32], shape: Shape, white: f32, side: u32) -> String {
    let img = image_of(pixels, shape, white);
    let longest = shape.width.max(shape.height) as u32;
    let img = if longest > side {
        let scale = side as f64 / longest as f64;
        let w = ((shape.width as f64 * scale).round() as u32).max(1);
        let h = ((shape.height as f64 * scale).round() as u32).max(1);
        img.resize_exact(w, h, FilterType::Triangle)
    } else {
        img
    };
    png_uri(img)
}

/// Per pixel, the mean over the channels of a per-value map.
pub fn per_pixel(values: &[f32], shape: Shape) -> Vec<f32> {
    values
        .chunks(shape.channels)
        .map(|c| c.iter().sum::<f32>() / shape.channels as f32)
        .collect()
}

/// A diverging heat map (blue below zero, white at zero, red above),
/// scaled so that the largest |value| is full colour. Returns the picture
/// and that largest |value|.
pub fn heat_map(values: &[f32], height: usize, width: usize) -> (String, f32) {
    let peak = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut bytes = Vec::with_capacity(values.len() * 3);
    for &v in values {
        let t = if peak > 0.0 {
            (v / peak).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let fade = byte(1.0 - t.abs());
        bytes.extend(if t >= 0.0 {
            [255, fade, fade]
        } else {
            [fade, fade, 255]
        });
    }
    let img = RgbImage::from_raw(width as u32, height as u32, bytes).expect("shape matches");
    (png_uri(DynamicImage::ImageRgb8(img)), peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(uri: &str) -> DynamicImage {
        let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        image::load_from_memory_with_format(&bytes, ImageFormat::Png).unwrap()
    }

    #[test]
    fn thumbnails_round_trip_and_large_images_are_scaled_down() {
        let shape = Shape {
            height: 2,
            width: 3,
            channels: 1,
        };
        // the same image in [0, 1] and as 8-bit values (a NumPy archive, a
        // CSV of pixel values) looks the same, not clipped white
        let image = [0.0, 0.5, 1.0, 1.0, 0.5, 0.0];
        for white in [1.0f32, 255.0] {
            let pixels: Vec<f32> = image.iter().map(|v| v * white).collect();
            let img = decode(&thumbnail(&pixels, shape, white, THUMB_SIDE)).to_luma8();
            assert_eq!(img.dimensions(), (3, 2));
            assert_eq!(img.as_raw(), &vec![0, 128, 255, 255, 128, 0]);
        }
        let big = Shape {
            height: 100,
            width: 200,
            channels: 3,
        };
        let img = decode(&thumbnail(&vec![0.3; big.len()], big, 1.0, THUMB_SIDE));
        assert_eq!((img.width(), img.height()), (64, 32));
    }

    #[test]
    fn heat_map_colours_sign_and_peak() {
        let (uri, peak) = heat_map(&[2.0, -1.0, 0.0, 0.5], 2, 2);
        assert_eq!(peak, 2.0);
        let img = decode(&uri).to_rgb8();
        assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [128, 128, 255]);
        assert_eq!(img.get_pixel(0, 1).0, [255, 255, 255]);
        assert_eq!(
            per_pixel(
                &[1.0, 3.0, 2.0, 2.0, 0.0, 0.0],
                Shape {
                    height: 1,
                    width: 2,
                    channels: 3
                }
            ),
            vec![2.0, 2.0 / 3.0]
        );
    }
}
