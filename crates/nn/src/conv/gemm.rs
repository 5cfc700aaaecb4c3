//! The flex backend's convolution and transposed convolution as im2col
//! and batched matrix products, with their own autodiff rule (see the
//! parent module).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ConvTransposeOptions};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata};
use burn::tensor::ops::PadMode;
use burn::tensor::{DType, Device, Shape, Tensor, TensorData};
use rayon::prelude::*;

/// A 2-D convolution with one group, no dilation, the same stride and
/// padding on both axes and a bias, as the zero-padded input's patches
/// times the kernel, differentiated as the module docs say.
#[backend_extension(Flex, Autodiff)]
pub trait GemmConv: Backend {
    /// `conv2d(x, weight, bias)`: x [N, C_in, H, W], weight [C_out, C_in, k, k], bias [C_out].
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        patch_conv2d::<Self>(x, weight, Some(bias), stride, padding)
    }

    /// `conv_transpose2d(x, weight, bias)`: x [N, C_in, H, W], weight
    /// [C_in, C_out, k, k], bias [C_out], no output padding.
    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d(x, weight, Some(bias), ConvTransposeOptions::new([stride, stride], [padding, padding], [0, 0], [1, 1], 1))
    }

    /// Each image [B, 1, H, W] convolved (a true convolution, zero padding,
    /// same size) with its own kernel [B, 1, k, k], k odd: a grouped
    /// convolution, one group per image, with the kernels flipped.
    fn per_image_convolution(images: FloatTensor<Self>, kernels: FloatTensor<Self>) -> FloatTensor<Self> {
        let [b, _, h, w] = images.shape().dims();
        let (options, images) = per_image_options::<Self>(&kernels, images);
        let y = Self::conv2d(images, Self::float_flip(kernels, &[2, 3]), None, options);
        Self::float_reshape(y, Shape::new([b, 1, h, w]))
    }

    /// The patches of the zero-padded input (im2col): [N, C_in·k², OH·OW],
    /// row c·k² + i·k + j holding x[n, c, oh·s + i − p, ow·s + j − p].
    fn conv_patches(x: FloatTensor<Self>, kernel: usize, stride: usize, padding: usize) -> FloatTensor<Self> {
        patches_by_views::<Self>(x, kernel, stride, padding)
    }
}

/// Hand-written im2col on flex's f32 buffers: burn's unfold is a strided
/// view whose permuted copy is a generic strided walk (4.3 ms for the
/// RIM's GRU input at batch 4, ~10× a plain copy).
impl GemmConv for Flex {
    fn conv_patches(x: FloatTensor<Self>, kernel: usize, stride: usize, padding: usize) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return patches_by_views::<Self>(x, kernel, stride, padding);
        }
        let [n, c_in, h, w] = x.shape().dims();
        let (oh, ow) = (output_side(h, kernel, stride, padding), output_side(w, kernel, stride, padding));
        let x = x.to_contiguous();
        let (start, end) = x.layout().contiguous_offsets().expect("a contiguous tensor");
        let data = &x.storage::<f32>()[start..end];
        let plane = kernel * kernel * oh * ow;
        let mut out = vec![0f32; n * c_in * plane];
        out.par_chunks_mut(plane).zip(data.par_chunks(h * w)).for_each(|(rows, image)| {
            for (index, row) in rows.chunks_mut(oh * ow).enumerate() {
                let (i, j) = (index / kernel, index % kernel);
                // Output columns whose input column lies inside the image.
                let first = padding.saturating_sub(j).div_ceil(stride).min(ow);
                let last = ((w + padding).saturating_sub(j).div_ceil(stride)).clamp(first, ow);
                for (r, out_row) in row.chunks_mut(ow).enumerate() {
                    let Some(y) = (r * stride + i).checked_sub(padding).filter(|&y| y < h) else { continue };
                    let source = &image[y * w..(y + 1) * w];
                    let x0 = first * stride + j - padding;
                    if stride == 1 {
                        out_row[first..last].copy_from_slice(&source[x0..x0 + last - first]);
                    } else {
                        for (k, value) in out_row[first..last].iter_mut().enumerate() {
                            *value = source[x0 + k * stride];
                        }
                    }
                }
            }
        });
        FlexTensor::from_data(TensorData::new(out, [n, c_in * kernel * kernel, oh * ow]))
    }
}

/// `conv_patches` from burn's operations: the padded input unfolded twice
/// (strided views) and copied in patch order.
fn patches_by_views<B: Backend>(x: FloatTensor<B>, kernel: usize, stride: usize, padding: usize) -> FloatTensor<B> {
    let [n, c_in, h, w] = x.shape().dims();
    let (oh, ow) = (output_side(h, kernel, stride, padding), output_side(w, kernel, stride, padding));
    let padded = match padding {
        0 => x,
        p => B::float_pad(x, &[(0, 0), (0, 0), (p, p), (p, p)], PadMode::Constant(0.0)),
    };
    // [N, C_in, OH, W+2p, k] then [N, C_in, OH, OW, k, k] (each unfold appends its window).
    let rows = B::float_unfold(padded, 2, kernel, stride);
    let patches = B::float_unfold(rows, 3, kernel, stride);
    let patches = B::float_permute(patches, &[0, 1, 4, 5, 2, 3]);
    B::float_reshape(patches, Shape::new([n, c_in * kernel * kernel, oh * ow]))
}

/// The grouped convolution's options (one group per image, padding k/2)
/// and the images as its one sample [1, B, H, W].
fn per_image_options<B: Backend>(kernels: &FloatTensor<B>, images: FloatTensor<B>) -> (ConvOptions<2>, FloatTensor<B>) {
    let [b, _, h, w] = images.shape().dims();
    let p = kernels.shape().dims::<4>()[2] / 2;
    (ConvOptions::new([1, 1], [p, p], [1, 1], b), B::float_reshape(images, Shape::new([1, b, h, w])))
}

fn output_side(side: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (side + 2 * padding - kernel) / stride + 1
}

fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1)
}

/// y[n] = W (C_out × C_in·k²) · patches[n] (+ bias): [N, C_out, OH, OW].
fn patch_conv2d<B: GemmConv>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    stride: usize,
    padding: usize,
) -> FloatTensor<B> {
    let [n, _, h, w] = x.shape().dims();
    let [c_out, c_in, kernel, _] = weight.shape().dims();
    let (oh, ow) = (output_side(h, kernel, stride, padding), output_side(w, kernel, stride, padding));
    let patches = B::conv_patches(x, kernel, stride, padding);
    let weight = B::float_reshape(weight, Shape::new([1, c_out, c_in * kernel * kernel]));
    let y = B::float_matmul(weight, patches);
    let y = match bias {
        Some(bias) => B::float_add(y, B::float_reshape(bias, Shape::new([1, c_out, 1]))),
        None => y,
    };
    B::float_reshape(y, Shape::new([n, c_out, oh, ow]))
}

/// The weight gradient: Σ_n dy[n] (C_out × P) · patches[n]ᵀ (P × C_in·k²),
/// P the output pixels.
fn weight_gradient<B: GemmConv>(x: FloatTensor<B>, dy: FloatTensor<B>, kernel: usize, stride: usize, padding: usize) -> FloatTensor<B> {
    let [n, c_in, _, _] = x.shape().dims();
    let [_, c_out, oh, ow] = dy.shape().dims();
    let patches = B::float_swap_dims(B::conv_patches(x, kernel, stride, padding), 1, 2);
    let dy = B::float_reshape(dy, Shape::new([n, c_out, oh * ow]));
    let summed = B::float_sum_dim(B::float_matmul(dy, patches), 0);
    B::float_reshape(summed, Shape::new([c_out, c_in, kernel, kernel]))
}

/// The bias gradient: dy summed over samples and pixels, [C_out].
fn bias_gradient<B: Backend>(dy: FloatTensor<B>) -> FloatTensor<B> {
    let [_, c_out, _, _] = dy.shape().dims();
    let summed = B::float_sum_dim(B::float_sum_dim(B::float_sum_dim(dy, 3), 2), 0);
    B::float_reshape(summed, Shape::new([c_out]))
}

/// The input gradient: at stride 1 the convolution of dy with the kernel
/// flipped in both axes and its channel axes swapped, padded by k − 1 − p;
/// otherwise burn's transposed convolution.
fn input_gradient<B: GemmConv>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    dy: FloatTensor<B>,
    stride: usize,
    padding: usize,
) -> FloatTensor<B> {
    let kernel = weight.shape().dims::<4>()[2];
    if stride == 1 && padding < kernel {
        let flipped = B::float_swap_dims(B::float_flip(weight, &[2, 3]), 0, 1);
        patch_conv2d::<B>(dy, flipped, None, 1, kernel - 1 - padding)
    } else {
        B::conv2d_x_backward(x, weight, dy, options(stride, padding))
    }
}

impl<B: GemmConv, C: CheckpointStrategy> GemmConv for Autodiff<B, C> {
    fn per_image_convolution(images: FloatTensor<Self>, kernels: FloatTensor<Self>) -> FloatTensor<Self> {
        /// The images' gradient is dy correlated with each kernel: the same
        /// per-image convolution with the kernels flipped (flex's
        /// depthwise path, where burn's rule is a transposed convolution
        /// with a 21 × 21 scatter per pixel); the kernels' gradient (a
        /// learned PSF) is burn's grouped weight gradient, flipped back.
        #[derive(Debug)]
        struct PerImageBackward;

        impl<B: GemmConv> Backward<B, 2> for PerImageBackward {
            type State = (NodeId, NodeId);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node_images, node_kernels] = ops.parents;
                let dy = grads.consume::<B>(&ops.node);
                let (images_state, kernels_state) = ops.state;
                let kernels = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(kernels_state);
                if let Some(node) = node_kernels {
                    let images = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(images_state);
                    let shape = kernels.shape();
                    let (options, images) = per_image_options::<B>(&kernels, images);
                    let dy = B::float_reshape(dy.clone(), images.shape());
                    let flipped = B::float_flip(kernels.clone(), &[2, 3]);
                    let gradient = B::conv2d_weight_backward(images, flipped, dy, options);
                    grads.register::<B>(node.id, B::float_reshape(B::float_flip(gradient, &[2, 3]), shape));
                }
                if let Some(node) = node_images {
                    grads.register::<B>(node.id, B::per_image_convolution(dy, B::float_flip(kernels, &[2, 3])));
                }
            }
        }

        match PerImageBackward.prepare::<C>([images.node(), kernels.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let images_state = prep.checkpoint(&images);
                let kernels_state = prep.checkpoint(&kernels);
                let y = B::per_image_convolution(images.into_primitive(), kernels.into_primitive());
                prep.finish((images_state, kernels_state), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::per_image_convolution(images.into_primitive(), kernels.into_primitive())),
        }
    }

    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        tracked_convolution::<B, C>(x, weight, bias, Convolution { stride, padding, transposed: false })
    }

    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        tracked_convolution::<B, C>(x, weight, bias, Convolution { stride, padding, transposed: true })
    }
}

/// Which convolution a [`ConvolutionBackward`] differentiates.
#[derive(Debug, Clone, Copy)]
struct Convolution {
    stride: usize,
    padding: usize,
    /// A transposed convolution x → y is the adjoint of the convolution
    /// y → x with the same kernel: its input gradient is that convolution
    /// of dy, its weight gradient that convolution's weight gradient with
    /// dy as the input and x as the output's.
    transposed: bool,
}

#[derive(Debug)]
struct ConvolutionBackward;

impl<B: GemmConv> Backward<B, 3> for ConvolutionBackward {
    type State = (NodeId, NodeId, Convolution);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, Convolution { stride, padding, transposed }) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
        let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
        let kernel = weight.shape().dims::<4>()[2];
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, bias_gradient::<B>(dy.clone()));
        }
        if let Some(node) = node_weight {
            let gradient = match transposed {
                false => weight_gradient::<B>(x.clone(), dy.clone(), kernel, stride, padding),
                true => weight_gradient::<B>(dy.clone(), x.clone(), kernel, stride, padding),
            };
            grads.register::<B>(node.id, gradient);
        }
        if let Some(node) = node_x {
            let gradient = match transposed {
                false => input_gradient::<B>(x, weight, dy, stride, padding),
                true => patch_conv2d::<B>(dy, weight, None, stride, padding),
            };
            grads.register::<B>(node.id, gradient);
        }
    }
}

/// The convolution (or transposed convolution) of the inner backend,
/// recorded for [`ConvolutionBackward`].
fn tracked_convolution<B: GemmConv, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    how: Convolution,
) -> FloatTensor<Autodiff<B, C>> {
    let forward = |x, weight, bias| match how.transposed {
        false => B::gemm_conv2d(x, weight, bias, how.stride, how.padding),
        true => B::gemm_conv_transpose2d(x, weight, bias, how.stride, how.padding),
    };
    match ConvolutionBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let y = forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive());
            prep.finish((x_state, weight_state, how), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive())),
    }
}

/// Whether tensors on `device` run on flex (directly or under autodiff).
pub fn on_flex(device: &Device) -> bool {
    matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// The convolution through [`GemmConv`] (x [N, C_in, H, W], weight
/// [C_out, C_in, k, k], bias [C_out]); x on flex.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, stride: usize, padding: usize) -> Tensor<4> {
    let y = <Dispatch as GemmConv>::gemm_conv2d(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), stride, padding);
    Tensor::from_dispatch(y)
}

/// The transposed convolution through [`GemmConv`] (x [N, C_in, H, W],
/// weight [C_in, C_out, k, k], bias [C_out]); x on flex.
pub fn conv_transpose2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, stride: usize, padding: usize) -> Tensor<4> {
    let y = <Dispatch as GemmConv>::gemm_conv_transpose2d(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), stride, padding);
    Tensor::from_dispatch(y)
}

/// [`GemmConv::per_image_convolution`]: images [B, 1, H, W], kernels
/// [B, 1, k, k]; images on flex.
pub fn per_image_convolution(images: Tensor<4>, kernels: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as GemmConv>::per_image_convolution(images.into_dispatch(), kernels.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// The hand-written im2col against burn's unfold views (the default
    /// for other float types), at strides 1 and 2, paddings 0–2 and
    /// kernels 3–5 on a non-square image.
    #[test]
    fn hand_written_patches_equal_the_unfolded_views() {
        let device = Device::flex();
        for (kernel, stride, padding) in [(3, 1, 1), (3, 2, 1), (4, 2, 1), (5, 1, 2), (3, 1, 0), (3, 2, 0)] {
            let x = Tensor::<4>::random([2, 3, 9, 11], Distribution::Default, &device);
            let ours = Tensor::<3>::from_dispatch(<Dispatch as GemmConv>::conv_patches(x.clone().into_dispatch(), kernel, stride, padding));
            let views = patches_by_views::<Dispatch>(x.into_dispatch(), kernel, stride, padding);
            let views = Tensor::<3>::from_dispatch(views);
            assert_eq!(ours.dims(), views.dims(), "k {kernel}, stride {stride}, padding {padding}");
            let difference = (ours - views).abs().max().into_scalar::<f32>();
            assert_eq!(difference, 0.0, "k {kernel}, stride {stride}, padding {padding}");
        }
    }
}
