//! The two networks: an MLP for vectors and a small CNN for images. Both
//! return the penultimate layer's values before its ReLU (the learned
//! representation the scanners read) and the class logits.
//!
//! Why before the ReLU, measured on MNIST with a 1 % blended trigger: after
//! the ReLU, 31 of the 64 units of the CNN never fired and the live ones were
//! zero for most rows of a class, so the robust covariance of
//! `robust-spectral` collapsed onto the rows where they were zero (a whitened
//! eigenvalue of 2·10⁹, 15–40 % of every clean class "extreme") and
//! `spectral-signature` ranked the poisoned rows below chance (AUROC 0.44);
//! before it, every unit varies and `spectral-signature` reached 0.79 (0.83 on
//! BadNets 1 %, from 0.67).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

/// A classifier with a penultimate representation.
pub trait Classifier: Module + 'static {
    /// `(representation, logits)` of a batch of flattened inputs: the
    /// penultimate layer before its ReLU, and the head's output.
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>);
}

/// Width of the penultimate layer of both networks.
pub const EMBEDDING_DIMS: usize = 64;

/// Two hidden ReLU layers (256, then the 64-wide representation) and a
/// linear head.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    embed: Linear,
    head: Linear,
    activation: Relu,
}

impl Mlp {
    /// A freshly initialised MLP on `device` (seed the device first).
    pub fn new(inputs: usize, classes: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(inputs, 256).init(device),
            embed: LinearConfig::new(256, EMBEDDING_DIMS).init(device),
            head: LinearConfig::new(EMBEDDING_DIMS, classes).init(device),
            activation: Relu::new(),
        }
    }
}

impl Classifier for Mlp {
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.activation.forward(self.hidden.forward(x));
        let z = self.embed.forward(h);
        let logits = self.head.forward(self.activation.forward(z.clone()));
        (z, logits)
    }
}

/// Side the CNN's smaller side is brought down to at least: images whose
/// smaller side is `k` times that or more are first averaged over `k × k`
/// blocks (64×64 photos read at 32×32).
///
/// The network's cost grows with the pixels (a 64×64 colour image costs 16
/// times a 28×28 gray one): measured on 7,570 colour emoji at 64×64, the
/// default model took 92 s of a 101 s scan. At 32×32 — CIFAR's size, at
/// which small CNNs learn such classes — a 3×3 patch is still a 2×2 block
/// at least half as strong, and a blend or warp keeps its low frequencies.
pub const CNN_SIDE: usize = 32;

/// Two 3×3 convolutions (8 and 16 channels, ReLU, 2×2 max-pooling each),
/// a 64-wide dense representation and a linear head; larger images are
/// first averaged down towards [`CNN_SIDE`].
#[derive(Module, Debug)]
pub struct Cnn {
    shrink: Option<AvgPool2d>,
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    embed: Linear,
    head: Linear,
    activation: Relu,
    height: usize,
    width: usize,
    channels: usize,
}

impl Cnn {
    /// Whether images of this size fit the network (two 2×2 poolings).
    pub fn fits(height: usize, width: usize) -> bool {
        height >= 4 && width >= 4
    }

    /// The block the input is first averaged over (1: none).
    fn shrink_factor(height: usize, width: usize) -> usize {
        (height.min(width) / CNN_SIDE).max(1)
    }

    /// A freshly initialised CNN for `height × width × channels` images.
    pub fn new(
        height: usize,
        width: usize,
        channels: usize,
        classes: usize,
        device: &Device,
    ) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let k = Self::shrink_factor(height, width);
        let flat = 16 * (height / k / 4) * (width / k / 4);
        Self {
            shrink: (k > 1).then(|| AvgPool2dConfig::new([k, k]).init()),
            conv1: conv(channels, 8),
            conv2: conv(8, 16),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            embed: LinearConfig::new(flat, EMBEDDING_DIMS).init(device),
            head: LinearConfig::new(EMBEDDING_DIMS, classes).init(device),
            activation: Relu::new(),
            height,
            width,
            channels,
        }
    }
}

impl Classifier for Cnn {
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [batch, _] = x.dims();
        // rows hold height × width × channels, channels last
        let x = x
            .reshape([batch, self.height, self.width, self.channels])
            .permute([0, 3, 1, 2]);
        let x = match &self.shrink {
            Some(shrink) => shrink.forward(x),
            None => x,
        };
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(x)));
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x)));
        let [_, c, h, w] = x.dims();
        let z = self.embed.forward(x.reshape([batch, c * h * w]));
        let logits = self.head.forward(self.activation.forward(z.clone()));
        (z, logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn large_images_are_averaged_down_before_the_convolutions() {
        let device = Device::flex();
        // (height, width, channels, block): 64×64 photos read at 32×32;
        // MNIST, CIFAR and a strip whose smaller side is under 64 as they are
        for (h, w, c, k) in [
            (64, 64, 3, 2),
            (28, 28, 1, 1),
            (32, 32, 3, 1),
            (128, 40, 3, 1),
            (130, 200, 1, 4),
        ] {
            assert_eq!(Cnn::shrink_factor(h, w), k, "{h}x{w}");
            let net = Cnn::new(h, w, c, 5, &device);
            assert_eq!(net.shrink.is_some(), k > 1);
            let x = Tensor::from_data(
                TensorData::new(vec![0.5f32; 2 * h * w * c], [2, h * w * c]),
                &device,
            );
            let (z, logits) = net.forward(x);
            assert_eq!(z.dims(), [2, EMBEDDING_DIMS], "{h}x{w}x{c}");
            assert_eq!(logits.dims(), [2, 5], "{h}x{w}x{c}");
        }
    }
}
