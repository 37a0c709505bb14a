"""FFMNet (joint detection + segmentation) with deep JSCC of its intermediate feature D1.

Paper: "Deep Joint Source-Channel Coding for Multi-Task Network" (FFMNet). No public code exists;
this is a plain-torch reading of Sec. II. Weights start random: ImageNet-pretrained ResNet-50
weights cannot be downloaded here.
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
