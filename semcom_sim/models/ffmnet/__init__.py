"""FFMNet (joint detection + segmentation) with deep JSCC of its intermediate feature D1.

Paper: "Deep Joint Source-Channel Coding for Multi-Task Network" (FFMNet). No public code exists;
this is a plain-torch reading of Sec. II. Weights start random: ImageNet-pretrained ResNet-50
weights cannot be downloaded here.

Reading choices where the paper is silent (figures 2-4 are not in the text):
- Res1..Res4 are ResNet-50's bottleneck stages conv2_x..conv5_x (strides 4..32); Res2 is at
  stride 8, which gives the paper's 64 x 64 D1 for 512 x 512 inputs. Res5 is one more strided
  bottleneck (``res5_blocks`` blocks of ResNet's conv5 width).
- D1 = ReLU(BN(3x3 conv(F0))), so D1 >= 0 (the JSCC decoder ends in ReLU "to match D1's range").
- D{k+1} = stride-2 bottleneck(Dk) with width C/4 inside; D2, D3 use dilation 2 (DetNet-style).
- SSD default boxes: scales linear in [min_scale, max_scale], 4 or 6 boxes per cell, variances
  (0.1, 0.2), matching IoU 0.5, 3:1 hard negatives; ``num_classes`` excludes the background.
- Segmentation head: 1x1 conv + ReLU per level (``seg_channels``, 64 in the paper), bilinear
  resize to the D1 grid, concat, 3x3 conv to logits, bilinear upsampling to the input.
- JSCC downsampling = average pooling with kernel = stride; the decoder's middle width is C/2,
  its upsampling bilinear; IGDN sits after the first decoder conv by default.

Around the model (imported on demand, not here): ``task`` (the ``detseg`` task and its metrics),
``trainer`` (``semcom-sim train ffmnet``), ``pretrained`` (checkpoint loading and the shipped
checkpoints in ``checkpoints/``), ``schemes`` (``ffmnet-uncompressed``, ``ffmnet-jscc-*``,
``ffmnet-jpeg-*-ldpc``) and ``report`` (Table III / Fig. 5 from sweep results).
"""

from semcom_sim.models.ffmnet.boxes import (
    batched_nms,
    box_iou,
    cxcywh_to_xyxy,
    decode,
    encode,
    make_priors,
    match,
    nms,
    xyxy_to_cxcywh,
)
from semcom_sim.models.ffmnet.config import (
    JSCC_SETTINGS,
    FFMNetConfig,
    JSCCConfig,
    ffmnet_preset,
    jscc_preset,
)
from semcom_sim.models.ffmnet.gdn import GDN, igdn, lower_bound
from semcom_sim.models.ffmnet.heads import detect, segmentation_loss, ssd_loss
from semcom_sim.models.ffmnet.jscc import FeatureJSCC, FFMNetJSCC, JSCCDecoder, JSCCEncoder
from semcom_sim.models.ffmnet.model import (
    FFMNet,
    count_parameters,
    empty_targets,
    parameter_breakdown,
)
from semcom_sim.models.ffmnet.toy import TOY_CLASSES, make_toy_scenes
from semcom_sim.models.ffmnet.train import (
    TRAIN_SNRS_DB,
    make_optimizer,
    set_requires_grad,
    train_step_end_to_end,
    train_step_ffmnet,
    train_step_jscc,
    training_channel,
)

__all__ = [
    "GDN",
    "JSCC_SETTINGS",
    "TOY_CLASSES",
    "TRAIN_SNRS_DB",
    "FFMNet",
    "FFMNetConfig",
    "FFMNetJSCC",
    "FeatureJSCC",
    "JSCCConfig",
    "JSCCDecoder",
    "JSCCEncoder",
    "batched_nms",
    "box_iou",
    "count_parameters",
    "cxcywh_to_xyxy",
    "decode",
    "detect",
    "empty_targets",
    "encode",
    "ffmnet_preset",
    "igdn",
    "jscc_preset",
    "lower_bound",
    "make_optimizer",
    "make_priors",
    "make_toy_scenes",
    "match",
    "nms",
    "parameter_breakdown",
    "segmentation_loss",
    "set_requires_grad",
    "ssd_loss",
    "train_step_end_to_end",
    "train_step_ffmnet",
    "train_step_jscc",
    "training_channel",
    "xyxy_to_cxcywh",
]
