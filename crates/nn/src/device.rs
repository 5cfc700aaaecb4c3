//! Device selection: flex (CPU) by default; `BURN_DEVICE` or a GPU feature
//! changes it without touching model code.

use burn::tensor::Device;

/// The device models and operators run on: burn's default device, which is
/// the first enabled backend in burn's priority order (GPUs before CPUs)
/// unless the `BURN_DEVICE` environment variable names one.
pub fn default_device() -> Device {
    Device::default()
}
