//! Convolutions whose backward pass takes burn-flex's fast paths.
//!
//! burn 0.22 differentiates a convolution through generic rules that are
//! slow on the flex CPU backend at the RIM's shapes (batch 4 per part,
//! 2–64 channels, 24²–96² pixels):
//! - a weight gradient is a convolution of the input (batch and channels
//!   swapped) with the output gradient as a kernel the size of the image,
//!   which flex runs on its small-channel direct path (inner loops over
//!   the 3 × 3 or 4 × 4 result);
//! - a convolution's input gradient is a transposed convolution: a GEMM
//!   followed by a scalar col2im scatter.
//!
//! perf on a stage-3 training run put about half of all CPU samples
//! there (the conv-transpose scatter 25 %, the direct path ~28 %). On flex,
//! [`conv2d`] and [`conv_transpose2d`] instead run through `gemm`, a burn
//! backend extension with its own autodiff rule (burn has no other hook to
//! change a built-in operation's backward pass): a convolution is the
//! input's patches (im2col, hand-written on flex's buffers) times the
//! kernel, one batched matrix product; its weight gradient the output
//! gradient times the patches; at stride 1 its input gradient the
//! convolution of the output gradient with the flipped, transposed kernel.
//! A transposed convolution is the adjoint of a convolution, so its
//! gradients are that convolution and its weight gradient. Measured on
//! the RIM's layers, forward and backward at batch 4: GRU gates 14 → 9.5
//! ms, up-sampling 48² → 96² 22 → 7 ms; the encoder's four layers 84 → 58
//! ms. Other backends (a GPU) keep burn's own convolutions.

#[cfg(feature = "flex")]
mod gemm;

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

/// `conv.forward(x)`; through [`gemm`] when x is on flex and the
/// convolution has a bias, one group, no dilation, a square kernel and the
/// same stride and padding on every side.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let (
        Some(bias),
        [stride, stride_w],
        burn::nn::PaddingConfig2d::Explicit(padding, left, bottom, right),
        [1, 1],
        1,
        [kernel, kernel_w],
    ) = (&conv.bias, conv.stride, &conv.padding, conv.dilation, conv.groups, conv.kernel_size)
    {
        if stride == stride_w && kernel == kernel_w && [left, bottom, right] == [padding; 3] && gemm::on_flex(&x.device()) {
            return gemm::conv2d(x, conv.weight.val(), bias.val(), stride, *padding);
        }
    }
    conv.forward(x)
}

/// `conv.forward(x)`; through [`gemm`] when x is on flex and the
/// transposed convolution has a bias, one group, no dilation, a square
/// kernel, the same stride and padding on both axes and no output padding.
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let (Some(bias), [stride, stride_w], [padding, padding_w], [0, 0], [1, 1], 1, [kernel, kernel_w]) =
        (&conv.bias, conv.stride, conv.padding, conv.padding_out, conv.dilation, conv.groups, conv.kernel_size)
    {
        if stride == stride_w && padding == padding_w && kernel == kernel_w && gemm::on_flex(&x.device()) {
            return gemm::conv_transpose2d(x, conv.weight.val(), bias.val(), stride, padding);
        }
    }
    conv.forward(x)
}

/// True 2-D convolution of each image [B, 1, H, W] with its own kernel
/// [B, 1, k, k] (k odd), zero padding, same size: a grouped conv2d (one
/// group per image) with flipped kernels; on flex through [`gemm`], whose
/// backward pass correlates dy with the kernels instead of burn's
/// transposed convolution.
pub fn convolve_per_image(images: Tensor<4>, kernels: &Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if gemm::on_flex(&images.device()) {
        return gemm::per_image_convolution(images, kernels.clone());
    }
    let [b, _, h, w] = images.dims();
    let p = kernels.dims()[2] / 2;
    let options = ConvOptions { stride: [1, 1], padding: [(p, p), (p, p)], dilation: [1, 1], groups: b };
    burn::tensor::module::conv2d(images.reshape([1, b, h, w]), kernels.clone().flip([2, 3]), None, options).reshape([b, 1, h, w])
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution};

    /// max |a − b| / max |b|.
    fn relative<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        let scale = b.clone().abs().max().into_scalar::<f32>();
        (a - b).abs().max().into_scalar::<f32>() / scale
    }

    /// `ours` and `theirs` (the same operation) agree in value (1e-6) and
    /// in the gradients (1e-5) of `inputs` and `bias` of ⟨output, probe⟩.
    fn agree(ours: Tensor<4>, theirs: Tensor<4>, inputs: [&Tensor<4>; 2], bias: &Tensor<1>, case: &str) {
        assert!(gemm::on_flex(&ours.device()), "{case}: not on flex, the comparison would be burn's with itself");
        assert_eq!(ours.dims(), theirs.dims(), "{case}");
        let probe = Tensor::<4>::random(theirs.dims(), Distribution::Default, &theirs.device());
        assert!(relative(ours.clone(), theirs.clone()) < 1e-6, "{case}: values");
        let g_ours = (ours * probe.clone()).sum().backward();
        let g_theirs = (theirs * probe).sum().backward();
        for (input, name) in inputs.into_iter().zip(["input", "weight"]) {
            assert!(relative(input.grad(&g_ours).unwrap(), input.grad(&g_theirs).unwrap()) < 1e-5, "{case}: {name} gradient");
        }
        assert!(relative(bias.grad(&g_ours).unwrap(), bias.grad(&g_theirs).unwrap()) < 1e-5, "{case}: bias gradient");
    }

    /// Values and the gradients of input, weight and bias against burn's
    /// own `Conv2d`, at the RIM's strides, paddings and kernel sizes.
    #[test]
    fn gemm_conv2d_equals_burns_convolution_and_its_gradients() {
        let device = Device::default().autodiff();
        for (c_in, c_out, kernel, stride, padding, side) in
            [(5, 7, 3, 1, 1, 9), (3, 4, 3, 2, 1, 10), (4, 6, 3, 2, 1, 9), (2, 3, 5, 1, 2, 8), (3, 2, 3, 1, 0, 7)]
        {
            let conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
                .init(&device);
            let x = Tensor::<4>::random([3, c_in, side, side + 1], Distribution::Default, &device).require_grad();
            let ours = conv2d(&conv, x.clone());
            let theirs = conv.forward(x.clone());
            let case = format!("{c_in}→{c_out}, k {kernel}, stride {stride}, padding {padding}");
            agree(ours, theirs, [&x, &conv.weight.val()], &conv.bias.as_ref().unwrap().val(), &case);
        }
    }

    /// The same for the transposed convolution, at the RIM's up-sampling
    /// shape (k 4, stride 2, padding 1) and others.
    #[test]
    fn gemm_conv_transpose2d_equals_burns_and_its_gradients() {
        let device = Device::default().autodiff();
        for (c_in, c_out, kernel, stride, padding, side) in [(6, 4, 4, 2, 1, 5), (3, 5, 3, 1, 1, 6), (4, 2, 3, 2, 0, 4), (2, 3, 4, 2, 1, 7)]
        {
            let conv = ConvTranspose2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding([padding, padding])
                .init(&device);
            let x = Tensor::<4>::random([3, c_in, side, side + 2], Distribution::Default, &device).require_grad();
            let ours = conv_transpose2d(&conv, x.clone());
            let theirs = conv.forward(x.clone());
            let case = format!("{c_in}→{c_out}, k {kernel}, stride {stride}, padding {padding}");
            agree(ours, theirs, [&x, &conv.weight.val()], &conv.bias.as_ref().unwrap().val(), &case);
        }
    }

    /// The per-image convolution against burn's grouped convolution:
    /// values and the gradients of the images and of the kernels.
    #[test]
    fn convolve_per_image_equals_the_grouped_convolution_and_its_gradients() {
        let device = Device::default().autodiff();
        let images = Tensor::<4>::random([3, 1, 12, 12], Distribution::Default, &device).require_grad();
        let kernels = Tensor::<4>::random([3, 1, 5, 5], Distribution::Default, &device).require_grad();
        assert!(gemm::on_flex(&device), "not on flex, the comparison would be burn's with itself");
        let ours = convolve_per_image(images.clone(), &kernels);
        let options = ConvOptions { stride: [1, 1], padding: [(2, 2), (2, 2)], dilation: [1, 1], groups: 3 };
        let theirs = burn::tensor::module::conv2d(images.clone().reshape([1, 3, 12, 12]), kernels.clone().flip([2, 3]), None, options)
            .reshape([3, 1, 12, 12]);
        assert!(relative(ours.clone(), theirs.clone()) < 1e-6, "values");
        let probe = Tensor::<4>::random([3, 1, 12, 12], Distribution::Default, &device);
        let g_ours = (ours * probe.clone()).sum().backward();
        let g_theirs = (theirs * probe).sum().backward();
        assert!(relative(images.grad(&g_ours).unwrap(), images.grad(&g_theirs).unwrap()) < 1e-5, "images' gradient");
        assert!(relative(kernels.grad(&g_ours).unwrap(), kernels.grad(&g_theirs).unwrap()) < 1e-5, "kernels' gradient");
    }
}
