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
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
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

/// Two 3×3 convolutions (8 and 16 channels, ReLU, 2×2 max-pooling each),
/// a 64-wide dense representation and a linear head.
#[derive(Module, Debug)]
pub struct Cnn {
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
        let flat = 16 * (height / 4) * (width / 4);
        Self {
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
