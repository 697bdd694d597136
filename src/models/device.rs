//! `--device`: where the model trains, chosen once at run time. The CPU
//! backend (Burn's pure-Rust `flex`) is always built; `wgpu` and `cuda` are
//! cargo features.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use super::ModelError;

/// A device as the user names it: `cpu`, `wgpu[:N]`, `cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// Burn's pure-Rust CPU backend (`flex`).
    #[default]
    Cpu,
    /// A GPU through wgpu (Vulkan, Metal, DirectX), discrete GPU `N`.
    Wgpu(usize),
    /// An NVIDIA GPU through CUDA, device `N`.
    Cuda(usize),
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Wgpu(i) => write!(f, "wgpu:{i}"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => (
                k,
                i.parse::<usize>()
                    .map_err(|_| format!("`{s}`: the device index must be a whole number"))?,
            ),
            None => (s, 0),
        };
        match kind {
            "cpu" if index == 0 => Ok(DeviceSpec::Cpu),
            "wgpu" => Ok(DeviceSpec::Wgpu(index)),
            "cuda" => Ok(DeviceSpec::Cuda(index)),
            _ => Err(format!(
                "`{s}` is not a device; use `cpu`, `wgpu`, `wgpu:N`, `cuda` or `cuda:N`"
            )),
        }
    }
}

impl DeviceSpec {
    /// The Burn device, or an error naming the cargo feature this build
    /// lacks.
    pub fn device(&self) -> Result<Device, ModelError> {
        match *self {
            DeviceSpec::Cpu => Ok(Device::flex()),
            DeviceSpec::Wgpu(_index) => {
                #[cfg(feature = "wgpu")]
                {
                    Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(_index)))
                }
                #[cfg(not(feature = "wgpu"))]
                Err(ModelError::DeviceNotBuilt {
                    device: self.to_string(),
                    feature: "wgpu",
                })
            }
            DeviceSpec::Cuda(_index) => {
                #[cfg(feature = "cuda")]
                {
                    Ok(Device::cuda(_index))
                }
                #[cfg(not(feature = "cuda"))]
                Err(ModelError::DeviceNotBuilt {
                    device: self.to_string(),
                    feature: "cuda",
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse::<DeviceSpec>(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("wgpu:2".parse::<DeviceSpec>(), Ok(DeviceSpec::Wgpu(2)));
        assert!("tpu"
            .parse::<DeviceSpec>()
            .unwrap_err()
            .contains("not a device"));
        assert!("cuda:x"
            .parse::<DeviceSpec>()
            .unwrap_err()
            .contains("whole number"));
        assert_eq!(DeviceSpec::Cuda(1).to_string(), "cuda:1");
    }
}
